/** Errors of agentspec; each message names the thing, the value and what to do. */
import { HelixError } from '../errors.js';

/** An agent.toml (or the folder around it) is invalid (exit 65, EX_DATAERR). */
export class ManifestError extends HelixError {
  override readonly exitCode = 65;
}

/** A phrase grammar in an agent manifest cannot be compiled (exit 65, EX_DATAERR). */
export class GrammarError extends HelixError {
  override readonly exitCode = 65;
  constructor(
    readonly agent: string,
    readonly intent: string,
    readonly phrase: string,
    problem: string,
  ) {
    super(
      `agent ${agent}, intent ${intent}: phrase ${JSON.stringify(phrase)} ${problem}; fix the phrase in agents/${agent}/agent.toml`,
    );
  }
}
