/** Errors of the fleet definition and render tool. Each carries a stable `code`. */

export type IngressErrorCode =
  | 'INGRESS_DEFINITION_INVALID'
  | 'INGRESS_DEFINITION_UNREADABLE'
  | 'INGRESS_FLEET_EXISTS'
  | 'INGRESS_RENDER_FAILED';

export class IngressError extends Error {
  readonly code: IngressErrorCode;
  /** One `path: reason` line per problem, for definitions that fail validation. */
  readonly issues: string[];

  constructor(
    code: IngressErrorCode,
    message: string,
    options: { cause?: unknown; issues?: string[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IngressError';
    this.code = code;
    this.issues = options.issues ?? [];
  }
}
