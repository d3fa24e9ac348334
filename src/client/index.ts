export * from './outcome.ts';
export * from './timeline.ts';
export * from './extract.ts';
export * from './http-request.ts';
export * from './retry.ts';
export * from './requester.ts';
export * from './sdk-request.ts';
