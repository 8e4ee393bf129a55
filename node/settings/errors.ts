/** Errors of the settings module; each says what to do. */
import { UsageError } from '../errors.js';

/** A value that a known setting does not allow (the value shown is redacted for secrets). */
export class InvalidSettingError extends UsageError {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
    options?: ErrorOptions,
  ) {
    super(`setting ${key} = ${show(value)} is invalid; allowed: ${allowed}`, options);
  }
}

/** A key this version does not know. */
export class UnknownSettingError extends UsageError {
  constructor(
    readonly key: string,
    readonly known: readonly string[],
    options?: ErrorOptions,
  ) {
    super(`unknown setting ${JSON.stringify(key)}; the settings are: ${known.join(', ')}`, options);
  }
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A rename to a name another node of the mesh has. */
export class NodeNameTakenError extends UsageError {
  constructor(
    readonly nodeName: string,
    readonly owner: { id: string; name: string },
    options?: ErrorOptions,
  ) {
    super(
      `the name ${JSON.stringify(nodeName)} is taken by node ${owner.name} (${owner.id.slice(-8)}); ` +
        'node names are unique in the mesh: pick another, or rename that node first',
      options,
    );
  }
}

/** A node named by id, id prefix or name that the mesh does not know, or that names several. */
export class UnknownNodeError extends UsageError {
  constructor(
    readonly which: string,
    readonly nodes: readonly { id: string; name: string }[],
    ambiguous = false,
    options?: ErrorOptions,
  ) {
    const list = nodes.map((n) => `${n.name} (${n.id.slice(-8)})`).join(', ');
    super(
      ambiguous
        ? `${JSON.stringify(which)} names ${nodes.length} nodes; give a longer id: ${list}`
        : `no node ${JSON.stringify(which)} in the mesh; the nodes are: ${list}`,
      options,
    );
  }
}
