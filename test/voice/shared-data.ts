/** Locates ../shared/data (beside the repository root); tests skip with the reason when absent. */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedData = resolve(repoRoot, '../shared/data');

/** Path of a shared test file, or undefined when it is not there. */
export function sharedFile(name: string): string | undefined {
  const path = resolve(sharedData, name);
  return existsSync(path) ? path : undefined;
}

export function missingReason(name: string): string {
  return `${name} not found in ${sharedData} (the shared test data beside the repository)`;
}
