/** Capabilities' public face: what this node can do, how loaded it is, and what it lacks. */
export {
  CapabilityProber,
  probeCapabilities,
  readLoad,
  baselineCapabilities,
  hostOnlyCapabilities,
  cpuCount,
  type CapabilityProberOptions,
  type CapabilitiesListener,
} from './prober.js';
export {
  probeMic,
  probeGpu,
  probeDocker,
  probeOllama,
  probeStt,
  probeTts,
  probeGo,
  dockerEngineVersion,
  ollamaModels,
  inspectWhisperModel,
  inspectPocketsphinx,
  POCKETSPHINX_MODEL_DIR,
  TTS_ENGINES,
  type ProbeOptions,
  type DockerEngineInfo,
  type ModelCheck,
} from './probes.js';
export {
  parseArecordList,
  parseNvidiaSmiQuery,
  parseOllamaTags,
  parseOllamaPs,
  hasOllamaModel,
  isGgmlHeader,
  OllamaTagsSchema,
  OllamaPsSchema,
  OllamaModelSchema,
  OllamaModelDetailsSchema,
  OllamaLoadedModelSchema,
  type OllamaTags,
  type OllamaPs,
  NVIDIA_SMI_QUERY,
  NVIDIA_SMI_ARGS,
  type NvidiaGpu,
} from './parse.js';
export { runDoctor, realDoctorDeps, FIX, type DoctorCheck, type DoctorDeps } from './doctor.js';
export { findOnPath, runCommand, CommandError, type CommandResult } from './exec.js';
export {
  NATS_RELOAD_FIX_VERSION,
  parseNatsVersion,
  losesInterestOnReload,
  reloadBugWarning,
} from './nats-version.js';
