/** Test prompt source: loads a prompt's WAV file from the prompts dir as 8 kHz mono PCM. */
import { join } from 'node:path';
import type { CreatePromptSource } from '../../src/call/session.js';
import { loadPcm } from './twilio-caller.js';

export { createScriptedSession } from './scripted-session.js';

export const loadPcmSource: CreatePromptSource = (dirs) => ({
  load: async (prompt) => {
    if (prompt.audio === undefined) return new Int16Array(1600);
    return loadPcm(join(dirs.promptsDir, prompt.audio));
  },
});
