/** tts: reply speech on the mic node (espeak-ng, or piper when installed), played with aplay. */
import type { Config } from '../config/index.js';
import type { SpeakerOptions } from './speaker.js';

export {
  createSpeaker,
  play,
  parseStreamedWav,
  type Speaker,
  type SpeakerOptions,
  type SpeechAudio,
  type TtsEngineName,
} from './speaker.js';

/** The [voice] settings for reply speech. */
export function speakerOptionsFromConfig(voice: Config['voice']): SpeakerOptions {
  return {
    engine: voice.tts,
    voice: voice.tts_voice || undefined,
    piperModel: voice.piper_model || undefined,
    playbackDevice: voice.playback_device,
  };
}
