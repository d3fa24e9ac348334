export * from './api.ts';
export * from './control-headers.ts';
export * from './stamp.ts';
export * from './random.ts';
export * from './policy-xml.ts';
export * from './gateway-log.ts';
export * from './backends.ts';
export * from './sse-parser.ts';
