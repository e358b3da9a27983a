export { LocalStack, type LocalStackOptions, type StackInfo } from './stack/local-stack.js';
export { runDemo, summariseReport, type DemoOptions, type DemoReport } from './demo/run-demo.js';
export { ApiClient } from './demo/api-client.js';
export { formatLogLine } from './stack/log-stream.js';
export { CliError } from './errors.js';
export {
  runInboundCalls,
  type InboundCallsOptions,
  type InboundReport,
} from './demo/inbound-calls.js';
