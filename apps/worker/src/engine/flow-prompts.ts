/** Loads every prompt of a bot flow before the call starts, so playback never waits on I/O. */
import type { BotConfig, Prompt } from '@voxfleet/schema';
import { EngineError } from './errors.js';
import type { PromptSource } from './types.js';

/** A node's prompt and its decoded 8 kHz mono audio. */
export interface LoadedPrompt {
  text: string;
  pcm: Int16Array;
}

function promptOf(config: BotConfig, nodeId: string): Prompt | undefined {
  const node = config.nodes[nodeId];
  return node === undefined ? undefined : node.prompt;
}

/**
 * Loads the prompt of every node through `source`, loading each distinct file or text once.
 * Returns the prompts by node id. Throws an EngineError naming the first node, in config
 * order, whose prompt failed; its code is the source's code when the source set one.
 */
export async function loadFlowPrompts(
  config: BotConfig,
  source: PromptSource,
): Promise<Map<string, LoadedPrompt>> {
  const nodeIds = Object.keys(config.nodes);
  const loads = new Map<string, Promise<Int16Array>>();
  const keyOfNode = new Map<string, string>();

  for (const nodeId of nodeIds) {
    const prompt = promptOf(config, nodeId);
    if (prompt === undefined) continue;
    const key = prompt.audio !== undefined ? `file\0${prompt.audio}` : `tts\0${prompt.text}`;
    keyOfNode.set(nodeId, key);
    if (!loads.has(key)) loads.set(key, source.load(prompt, config.voice));
  }

  const keys = [...loads.keys()];
  const settled = await Promise.allSettled(loads.values());
  const results = new Map<string, PromiseSettledResult<Int16Array>>();
  keys.forEach((key, index) => {
    const result = settled[index];
    if (result !== undefined) results.set(key, result);
  });

  const prompts = new Map<string, LoadedPrompt>();
  for (const [nodeId, key] of keyOfNode) {
    const prompt = promptOf(config, nodeId);
    const result = results.get(key);
    if (prompt === undefined || result === undefined) continue;
    if (result.status === 'rejected') {
      const cause: unknown = result.reason;
      const code = cause instanceof EngineError ? cause.code : 'PROMPT_LOAD_FAILED';
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new EngineError(code, `prompt of node "${nodeId}" failed to load: ${detail}`, {
        cause,
      });
    }
    prompts.set(nodeId, { text: prompt.text, pcm: result.value });
  }
  return prompts;
}
