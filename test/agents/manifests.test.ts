import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgents } from '../../node/agents/index.js';
import { ManifestError, parsePhrase, slotNames } from '../../node/agentspec/index.js';
import { agentSdkPath, snapshotSources } from '../../node/agents/loader.js';
import { BREAKERS_DIR, SHIPPED_DIR } from './helpers.js';

describe('shipped agent manifests', () => {
  it('load, and every phrase parses with slots that are arguments of its intent', async () => {
    const agents = await loadAgents([SHIPPED_DIR, BREAKERS_DIR]);
    expect(agents.map((a) => a.manifest.name).sort()).toEqual([
      'echo',
      'lights',
      'mesh',
      'protocol-breaker',
      'research',
      'sandbox-breaker',
      'timer',
    ]);
    for (const { manifest } of agents) {
      for (const intent of manifest.intents) {
        for (const phrase of intent.phrases) {
          const slots = slotNames(parsePhrase(phrase));
          for (const slot of slots)
            expect(
              Object.keys(intent.args),
              `${manifest.name}.${intent.name}: "${phrase}"`,
            ).toContain(slot);
        }
      }
    }
  });

  it('declare the calls and sandbox their work needs', async () => {
    const byName = new Map(
      (await loadAgents([SHIPPED_DIR])).map((a) => [a.manifest.name, a.manifest]),
    );
    expect(
      [...byName.entries()].map(([n, m]) => [n, m.tier, m.network, m.calls.join(',')]).sort(),
    ).toEqual([
      ['echo', 'warm', 'none', ''],
      ['lights', 'warm', 'none', 'home.call_service'],
      ['mesh', 'warm', 'none', 'mesh.status'],
      ['research', 'cold', 'egress', 'http.fetch,llm.generate'],
      ['timer', 'warm', 'none', 'notify'],
    ]);
  });
});

describe('loading agent folders', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'helix-test-agents-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const agent = async (
    root: string,
    folder: string,
    toml: string,
    files: Record<string, string> = { 'main.go': 'package main\nfunc main() {}\n' },
  ) => {
    await mkdir(path.join(root, folder), { recursive: true });
    await writeFile(path.join(root, folder, 'agent.toml'), toml);
    for (const [name, text] of Object.entries(files))
      await writeFile(path.join(root, folder, name), text);
  };

  it('hashes sources and manifest: a change to either changes the hash', async () => {
    const root = path.join(dir, 'hash');
    await agent(root, 'a', 'name = "a"\ntier = "cold"\n[[intents]]\nname = "go"\n');
    const [first] = await loadAgents([root]);
    await writeFile(path.join(root, 'a', 'main.go'), 'package main\nfunc main() { println() }\n');
    const [second] = await loadAgents([root]);
    await writeFile(
      path.join(root, 'a', 'agent.toml'),
      'name = "a"\ntier = "cold"\ntimeout_s = 9\n[[intents]]\nname = "go"\n',
    );
    const [third] = await loadAgents([root]);
    const [again] = await loadAgents([root]);
    expect(new Set([first!.hash, second!.hash, third!.hash]).size).toBe(3);
    expect(again!.hash).toBe(third!.hash);
  });

  it('builds every agent with the SDK: its bytes are in every hash, agents/sdk is no agent', async () => {
    const problems: string[] = [];
    const shipped = await loadAgents([SHIPPED_DIR], {
      strict: false,
      onProblem: (p) => problems.push(p.message),
    });
    expect(problems).toEqual([]);
    expect(shipped.map((a) => a.manifest.name)).not.toContain('sdk');
    expect(agentSdkPath()).toBe(path.join(SHIPPED_DIR, 'sdk', 'helix.go'));

    const root = path.join(dir, 'sdk');
    await agent(root, 'a', 'name = "a"\ntier = "cold"\n[[intents]]\nname = "go"\n');
    const sdk = path.join(root, 'helix.go');
    await copyFile(agentSdkPath(), sdk);
    const first = await snapshotSources(path.join(root, 'a'), sdk);
    expect(first.files.get('helix.go')?.toString()).toMatch(/func \(h \*host\) serve/);
    expect((await snapshotSources(path.join(root, 'a'), sdk)).hash).toBe(first.hash);
    await writeFile(sdk, `${first.files.get('helix.go')!.toString()}\n// changed\n`);
    expect((await snapshotSources(path.join(root, 'a'), sdk)).hash).not.toBe(first.hash);

    await writeFile(path.join(root, 'a', 'helix.go'), 'package main\n');
    await expect(snapshotSources(path.join(root, 'a'), sdk)).rejects.toThrow(
      /has its own helix\.go.*rename that file/,
    );
  });

  it('names the folder and the fix for a folder/name mismatch, a missing main.go and a duplicate', async () => {
    const root = path.join(dir, 'bad');
    await agent(root, 'one', 'name = "two"\ntier = "cold"\n[[intents]]\nname = "go"\n');
    await agent(root, 'nogo', 'name = "nogo"\ntier = "cold"\n[[intents]]\nname = "go"\n', {});
    const other = path.join(dir, 'other');
    await agent(other, 'echo', 'name = "echo"\ntier = "cold"\n[[intents]]\nname = "go"\n');
    const err = await loadAgents([root, SHIPPED_DIR, other]).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as Error).message).toMatch(/3 agents cannot be loaded/);
    expect((err as Error).message).toMatch(
      /name = "two" but the folder is "one"; make them the same/,
    );
    expect((err as Error).message).toMatch(/nogo has no \.go file/);
    expect((err as Error).message).toMatch(/agent "echo" is defined twice/);

    const problems: string[] = [];
    const lenient = await loadAgents([root, SHIPPED_DIR, other], {
      strict: false,
      onProblem: (p) => problems.push(p.message),
    });
    expect(problems).toHaveLength(3);
    expect(lenient.map((a) => a.manifest.name)).toContain('lights');
  });
});
