export * from './sample.ts';
export * from './stats.ts';
