/** The repository's agent manifests (agents/<name>/agent.toml), or a fixture when there are none yet. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { ManifestSchema, type AgentManifest } from '../../node/agentspec/index.js';
import { repoRoot } from '../voice/shared-data.js';

const FIXTURE = `
name = "lights"
tier = "warm"
[[intents]]
name = "on"
phrases = ["turn on [the] {room} lights", "turn [the] {room} lights on"]
[intents.args.room]
type = "string"
enum_from = "lights.rooms"
[[intents]]
name = "off"
phrases = ["turn off [the] {room} lights", "turn [the] {room} lights off"]
[intents.args.room]
type = "string"
enum_from = "lights.rooms"
[[intents]]
name = "dim"
phrases = ["dim [the] {room} lights to {level} percent"]
[intents.args.room]
type = "string"
enum_from = "lights.rooms"
[intents.args.level]
type = "integer"
required = true
min = 0
max = 100
`;

export const TEST_ROOMS = ['kitchen', 'living room', 'bedroom', 'office'];

export function loadTestManifests(): AgentManifest[] {
  const dir = join(repoRoot, 'agents');
  const found = existsSync(dir)
    ? readdirSync(dir)
        .filter((d) => existsSync(join(dir, d, 'agent.toml')))
        .map((d) => ManifestSchema.parse(parse(readFileSync(join(dir, d, 'agent.toml'), 'utf8'))))
    : [];
  return found.length ? found : [ManifestSchema.parse(parse(FIXTURE))];
}
