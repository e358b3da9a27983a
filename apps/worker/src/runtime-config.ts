/**
 * The check of the runtime config that a worker fetches from voxbridge at call start: the
 * rules of `RuntimeConfig` and `BotConfig` in `@voxfleet/schema` (fields, limits, defaults,
 * unknown fields rejected, node references and a reachable hangup), written with zod/mini.
 * Loading the shared classic-zod schemas in a call would cost about 14 MiB of resident
 * memory (docs/benchmarks.md, "Worker"). `test/runtime-config.test.ts` checks that both
 * accept and reject the same configs with the same output.
 */
import type { RuntimeConfig as SharedRuntimeConfig } from '@voxfleet/schema';
import { z } from './validation.js';

const NodeId = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(64),
    z.regex(/^[A-Za-z0-9_-]+$/, 'must contain only letters, digits, "-" and "_"'),
  );

const Prompt = z.strictObject({
  text: z.string().check(z.minLength(1), z.maxLength(2000)),
  audio: z.optional(
    z.string().check(
      z.maxLength(256),
      z.regex(/^[A-Za-z0-9_-][A-Za-z0-9_./-]*\.wav$/, 'must be a relative .wav path'),
      z.refine((path) => !path.split('/').includes('..'), 'must not contain ".."'),
    ),
  ),
});

const DtmfDigit = z.string().check(z.regex(/^[0-9*#]$/, 'must be one DTMF digit: 0-9, * or #'));

const SayNode = z.strictObject({ type: z.literal('say'), prompt: Prompt, next: NodeId });

const AskNode = z.strictObject({
  type: z.literal('ask'),
  prompt: Prompt,
  digits: z._default(z.record(DtmfDigit, NodeId), {}),
  speech: z.optional(NodeId),
  noInput: NodeId,
  invalid: z.optional(NodeId),
  timeoutMs: z._default(z.int().check(z.minimum(500), z.maximum(60_000)), 5000),
  retries: z._default(z.int().check(z.minimum(0), z.maximum(5)), 1),
});

const HangupNode = z.strictObject({
  type: z.literal('hangup'),
  prompt: z.optional(Prompt),
  outcome: z.string().check(z.minLength(1), z.maxLength(64)),
});

const FlowNode = z.discriminatedUnion('type', [SayNode, AskNode, HangupNode]);
type FlowNode = z.infer<typeof FlowNode>;

const VadOptions = z.strictObject({
  thresholdDb: z._default(z.number().check(z.minimum(-90), z.maximum(0)), -35),
  minSpeechMs: z._default(z.int().check(z.minimum(20), z.maximum(2000)), 120),
  endSilenceMs: z._default(z.int().check(z.minimum(100), z.maximum(5000)), 700),
});

const BotConfig = z
  .strictObject({
    language: z._default(z.string().check(z.minLength(2), z.maxLength(16)), 'en'),
    voice: z._default(z.string().check(z.minLength(1), z.maxLength(64)), 'en-us'),
    start: NodeId,
    nodes: z.record(NodeId, FlowNode),
    bargeIn: z._default(z.boolean(), true),
    maxCallDurationMs: z._default(
      z.int().check(z.minimum(5_000), z.maximum(4 * 3_600_000)),
      600_000,
    ),
    vad: z._default(VadOptions, { thresholdDb: -35, minSpeechMs: 120, endSilenceMs: 700 }),
  })
  .check(
    z.superRefine((config, ctx) => {
      const ids = new Set(Object.keys(config.nodes));
      let unknownTargets = 0;
      if (!ids.has(config.start)) {
        ctx.addIssue({
          code: 'custom',
          path: ['start'],
          message: `unknown node "${config.start}"`,
        });
      }
      for (const [id, node] of Object.entries(config.nodes)) {
        for (const [path, target] of targetsOf(node)) {
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
    }),
  );

/** Body of `GET /internal/bots/{botId}/runtime-config`. */
export const RuntimeConfig = z.object({
  botId: z.string(),
  tenantId: z.string(),
  name: z.string(),
  revision: z.int(),
  config: BotConfig,
});

export type RuntimeConfigCheck =
  { ok: true; value: SharedRuntimeConfig } | { ok: false; message: string };

/** Checks a runtime config body and applies its defaults; invalid input is returned, not thrown. */
export function checkRuntimeConfig(body: unknown): RuntimeConfigCheck {
  const parsed = RuntimeConfig.safeParse(body);
  if (!parsed.success) return { ok: false, message: z.prettifyError(parsed.error) };
  const value: SharedRuntimeConfig = parsed.data;
  return { ok: true, value };
}

/** Lists the node references of one node, each with its path inside the node. */
function targetsOf(node: FlowNode): Array<[string[], string | undefined]> {
  if (node.type === 'say') return [[['next'], node.next]];
  if (node.type === 'hangup') return [];
  const targets: Array<[string[], string | undefined]> = [
    [['speech'], node.speech],
    [['noInput'], node.noInput],
    [['invalid'], node.invalid],
  ];
  for (const [digit, target] of Object.entries(node.digits))
    targets.push([['digits', digit], target]);
  return targets;
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
      const next = targetsOf(node).map(([, target]) => target);
      if (next.some((target) => target !== undefined && ending.has(target))) {
        ending.add(id);
        grew = true;
      }
    }
  }
  return Object.keys(nodes).filter((id) => !ending.has(id));
}
