/** Conversion of decoded audio to the engine's format: 8 kHz mono 16-bit PCM. */
import {
  TELEPHONY_SAMPLE_RATE,
  WavFormatError,
  downmixToMono,
  resample,
  type PcmAudio,
} from '@voxfleet/audio';

/** Downmixes decoded audio to mono and resamples it to 8 kHz. Throws WavFormatError. */
export function toTelephonyPcm(audio: PcmAudio): Int16Array {
  if (audio.channels < 1 || audio.sampleRate < 1) {
    throw new WavFormatError(
      `invalid WAV format: ${audio.channels} channels at ${audio.sampleRate} Hz`,
    );
  }
  const mono = downmixToMono(audio.samples, audio.channels);
  return resample(mono, audio.sampleRate, TELEPHONY_SAMPLE_RATE);
}
