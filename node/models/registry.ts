/**
 * The models `helix-node models` knows: whisper.cpp ggml files on Hugging Face and the Silero VAD
 * model the voice module loads. Pure: names, files, URLs and checksums.
 *
 * SHA-1s are whisper.cpp's own table (models/README.md in ggml-org/whisper.cpp). SHA-256s are the
 * Hugging Face LFS object ids, as listed by other projects that pin these files (the multilingual
 * ones by two independent lists that agree); a file is accepted only when every checksum we hold
 * for it matches. The Silero file's SHA-256 is also the one ../shared/data/README.md gives.
 */
import path from 'node:path';

export type ModelKind = 'whisper' | 'vad';

export interface ModelSpec {
  /** what the user types: "base.en" */
  name: string;
  kind: ModelKind;
  /** file name under <stateDir>/models */
  file: string;
  /** Hugging Face repository and file: `${base}/${repo}/resolve/main/${file}` */
  repo: string;
  /** exact size in bytes, when known */
  bytes?: number;
  /** for listings: "75 MiB" */
  approxSize: string;
  sha256?: string;
  sha1?: string;
  description: string;
}

export const HUGGING_FACE = 'https://huggingface.co';

const WHISPER_REPO = 'ggerganov/whisper.cpp';

function whisper(
  name: string,
  approxSize: string,
  sums: { sha1: string; sha256?: string; bytes?: number },
  description: string,
): ModelSpec {
  return {
    name,
    kind: 'whisper',
    file: `ggml-${name}.bin`,
    repo: WHISPER_REPO,
    approxSize,
    description,
    ...sums,
  };
}

export const KNOWN_MODELS: readonly ModelSpec[] = [
  whisper(
    'tiny.en',
    '75 MiB',
    {
      sha1: 'c78c86eb1a8faa21b369bcd33207cc90d64ae9df',
      sha256: '921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f',
      bytes: 77_704_715,
    },
    'English only, fastest; fine for commands on a Pi 5 or an old laptop',
  ),
  whisper(
    'tiny',
    '75 MiB',
    {
      sha1: 'bd577a113a864445d4c299885e0cb97d4ba92b5f',
      sha256: 'be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21',
      bytes: 77_691_713,
    },
    'multilingual, fastest',
  ),
  whisper(
    'base.en',
    '142 MiB',
    {
      sha1: '137c40403d78fd54d454da0f9bd998f78703390c',
      sha256: 'a03779c86df3323075f5e796cb2ce5029f00ec8869eee3fdfb897afe36c6d002',
    },
    'English only; the default for laptops and desktops',
  ),
  whisper(
    'base',
    '142 MiB',
    {
      sha1: '465707469ff3a37a2b9b8d8f89f2f99de7299dac',
      sha256: '60ed5bc3dd14eea856493d334349b405782ddcaf0028d4b5df4088345fba2efe',
      bytes: 147_951_465,
    },
    'multilingual',
  ),
  whisper(
    'small.en',
    '466 MiB',
    {
      sha1: 'db8a495a91d927739e50b3fc1cc4c6b8f6c2d022',
      sha256: 'c6138d6d58ecc8322097e0f987c32f1be8bb0a18532a3f88f734d1bbf9c41e5d',
    },
    'English only, more accurate; wants a fast CPU or a GPU',
  ),
  whisper(
    'small',
    '466 MiB',
    {
      sha1: '55356645c2b361a969dfd0ef2c5a50d530afd8d5',
      sha256: '1be3a9b2063867b937e64e2ec7483364a79917e157fa98c5d94b5c1fffea987b',
      bytes: 487_601_967,
    },
    'multilingual, more accurate',
  ),
  whisper(
    'medium.en',
    '1.5 GiB',
    {
      sha1: '8c30f0e44ce9560643ebd10bbe50cd20eafd3723',
      sha256: 'cc37e93478338ec7700281a7ac30a10128929eb8f427dda2e865faa8f6da4356',
    },
    'English only; GPU machines',
  ),
  whisper(
    'medium',
    '1.5 GiB',
    {
      sha1: 'fd9727b6e1217c2f614f9b698455c4ffd82463b4',
      sha256: '6c14d5adee5f86394037b4e4e8b59f1673b6cee10e3cf0b11bbdbee79c156208',
      bytes: 1_533_763_059,
    },
    'multilingual; GPU machines',
  ),
  whisper(
    'large-v3',
    '2.9 GiB',
    {
      sha1: 'ad82bf6a9043ceed055076d0fd39f5f186ff8062',
      sha256: '64d182b440b98d5203c4f9bd541544d84c605196c4f7b845dfa11fb23594d1e2',
    },
    'multilingual, most accurate; GPU machines',
  ),
  {
    name: 'silero-v6.2.0',
    kind: 'vad',
    file: 'ggml-silero-v6.2.0.bin',
    repo: 'ggml-org/whisper-vad',
    bytes: 885_098,
    approxSize: '0.8 MiB',
    sha256: '2aa269b785eeb53a82983a20501ddf7c1d9c48e33ab63a41391ac6c9f7fb6987',
    description: 'Silero voice activity detection (every node with a mic needs it)',
  },
];

/**
 * The spec for what a user typed: "base.en", "whisper-base.en", "ggml-base.en.bin" or
 * "silero" / "silero-vad" (what the VAD's error messages say); null when unknown.
 */
export function findModel(
  query: string,
  known: readonly ModelSpec[] = KNOWN_MODELS,
): ModelSpec | null {
  const q = query.trim().toLowerCase();
  const bare = q
    .replace(/^whisper-/, '')
    .replace(/^ggml-/, '')
    .replace(/\.bin$/, '');
  return (
    known.find((m) => m.name === q || m.name === bare || m.file === q) ??
    (['silero', 'silero-vad', 'vad'].includes(bare)
      ? (known.find((m) => m.kind === 'vad') ?? null)
      : null)
  );
}

export function modelsDir(stateDir: string): string {
  return path.join(stateDir, 'models');
}

export function modelUrl(spec: ModelSpec, base: string = HUGGING_FACE): string {
  return `${base.replace(/\/+$/, '')}/${spec.repo}/resolve/main/${spec.file}`;
}

/** "1.4 MiB", "142 MiB", "1.5 GiB" */
export function humanBytes(bytes: number): string {
  const mib = bytes / (1 << 20);
  if (mib >= 1024) return `${(mib / 1024).toFixed(1)} GiB`;
  if (mib >= 10) return `${Math.round(mib)} MiB`;
  if (bytes >= 1 << 20) return `${mib.toFixed(1)} MiB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

/** The names users can pull, for error messages. */
export function knownNames(known: readonly ModelSpec[] = KNOWN_MODELS): string {
  return known.map((m) => m.name).join(', ');
}
