export * from './types.ts';
export * from './run-load.ts';
