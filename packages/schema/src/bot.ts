/**
 * Bot runtime config: what voxbridge stores per bot and what a worker fetches at call start.
 *
 * A bot is a flow of nodes. `say` plays a prompt and moves on, `ask` plays a prompt and
 * branches on the caller's DTMF digit, speech or silence, and `hangup` plays an optional
 * prompt and ends the call with an outcome.
 */
import { z } from 'zod';

/** A node id, also used in transcripts; letters, digits, `-` and `_`. */
export const NodeId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must contain only letters, digits, "-" and "_"');

/**
 * A prompt. `audio` names a WAV file under the worker's prompt directory and wins when
 * present; otherwise the worker synthesises `text` with its TTS engine.
 */
export const Prompt = z
  .object({
    text: z.string().min(1).max(2000),
    audio: z
      .string()
      .max(256)
      .regex(/^[A-Za-z0-9_-][A-Za-z0-9_./-]*\.wav$/, 'must be a relative .wav path')
      .refine((p) => !p.split('/').includes('..'), 'must not contain ".."')
      .optional(),
  })
  .strict();
export type Prompt = z.infer<typeof Prompt>;

const DtmfDigit = z.string().regex(/^[0-9*#]$/, 'must be one DTMF digit: 0-9, * or #');

export const SayNode = z.object({ type: z.literal('say'), prompt: Prompt, next: NodeId }).strict();

export const AskNode = z
  .object({
    type: z.literal('ask'),
    prompt: Prompt,
    /** Digit to next node id. */
    digits: z.record(DtmfDigit, NodeId).default({}),
    /** Target node of a caller utterance (speech detected, not recognised). */
    speech: NodeId.optional(),
    /** Target node once `retries` re-prompts found no input. */
    noInput: NodeId,
    /** Target node of a digit missing from `digits`; without it the prompt repeats. */
    invalid: NodeId.optional(),
    timeoutMs: z.number().int().min(500).max(60_000).default(5000),
    retries: z.number().int().min(0).max(5).default(1),
  })
  .strict();

export const HangupNode = z
  .object({
    type: z.literal('hangup'),
    prompt: Prompt.optional(),
    /** A short machine-readable result such as `confirmed` or `no-response`. */
    outcome: z.string().min(1).max(64),
  })
  .strict();

export const FlowNode = z.discriminatedUnion('type', [SayNode, AskNode, HangupNode]);
export type FlowNode = z.infer<typeof FlowNode>;
export type SayNode = z.infer<typeof SayNode>;
export type AskNode = z.infer<typeof AskNode>;
export type HangupNode = z.infer<typeof HangupNode>;

export const VadOptions = z
  .object({
    /** Frame energy above this (dBFS) counts as speech. */
    thresholdDb: z.number().min(-90).max(0).default(-35),
    /** Speech this long starts an utterance (and barges in). */
    minSpeechMs: z.number().int().min(20).max(2000).default(120),
    /** Silence this long ends an utterance. */
    endSilenceMs: z.number().int().min(100).max(5000).default(700),
  })
  .strict();
export type VadOptions = z.infer<typeof VadOptions>;

export const BotConfig = z
  .object({
    language: z.string().min(2).max(16).default('en'),
    /** espeak-ng voice name used when a prompt has no audio file. */
    voice: z.string().min(1).max(64).default('en-us'),
    start: NodeId,
    nodes: z.record(NodeId, FlowNode),
    bargeIn: z.boolean().default(true),
    maxCallDurationMs: z
      .number()
      .int()
      .min(5_000)
      .max(4 * 3_600_000)
      .default(600_000),
    vad: VadOptions.default({ thresholdDb: -35, minSpeechMs: 120, endSilenceMs: 700 }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const ids = new Set(Object.keys(config.nodes));
    let unknownTargets = 0;
    if (!ids.has(config.start)) {
      ctx.addIssue({ code: 'custom', path: ['start'], message: `unknown node "${config.start}"` });
    }
    for (const [id, node] of Object.entries(config.nodes)) {
      const targets: Array<[string[], string | undefined]> = [];
      if (node.type === 'say') targets.push([['next'], node.next]);
      if (node.type === 'ask') {
        targets.push([['speech'], node.speech], [['noInput'], node.noInput]);
        targets.push([['invalid'], node.invalid]);
        for (const [digit, target] of Object.entries(node.digits)) {
          targets.push([['digits', digit], target]);
        }
      }
      for (const [path, target] of targets) {
        if (target !== undefined && !ids.has(target)) {
          unknownTargets++;
          ctx.addIssue({
            code: 'custom',
            path: ['nodes', id, ...path],
            message: `unknown node "${target}"`,
          });
        }
      }
    }
    // Reachability means little while branches point at missing nodes; report those first.
    if (unknownTargets > 0) return;
    for (const id of nodesWithoutHangup(config.nodes)) {
      ctx.addIssue({
        code: 'custom',
        path: ['nodes', id],
        message: 'no hangup node can be reached from this node, so the call could never end',
      });
    }
  });

function successorsOf(node: FlowNode): string[] {
  if (node.type === 'say') return [node.next];
  if (node.type === 'hangup') return [];
  const next = [node.noInput, ...Object.values(node.digits)];
  if (node.speech !== undefined) next.push(node.speech);
  if (node.invalid !== undefined) next.push(node.invalid);
  return next;
}

/** Ids of nodes from which no path leads to a hangup node. */
function nodesWithoutHangup(nodes: Record<string, FlowNode>): string[] {
  const ending = new Set(
    Object.entries(nodes)
      .filter(([, node]) => node.type === 'hangup')
      .map(([id]) => id),
  );
  let grew = true;
  while (grew) {
    grew = false;
    for (const [id, node] of Object.entries(nodes)) {
      if (ending.has(id)) continue;
      if (successorsOf(node).some((next) => ending.has(next))) {
        ending.add(id);
        grew = true;
      }
    }
  }
  return Object.keys(nodes).filter((id) => !ending.has(id));
}
export type BotConfig = z.infer<typeof BotConfig>;
/** Bot config as a client writes it, with defaults still unapplied. */
export type BotConfigInput = z.input<typeof BotConfig>;

/** Body of `GET /internal/bots/{botId}/runtime-config`, as a worker receives it. */
export const RuntimeConfig = z.object({
  botId: z.string(),
  tenantId: z.string(),
  name: z.string(),
  revision: z.number().int(),
  config: BotConfig,
});
export type RuntimeConfig = z.infer<typeof RuntimeConfig>;
