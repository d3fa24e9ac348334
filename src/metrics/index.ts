export * from './mann-whitney.ts';
export * from './quantile-difference.ts';
export * from './sample.ts';
export * from './stats.ts';
export * from './log-histogram.ts';
