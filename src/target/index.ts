export * from './types.ts';
export * from './models.ts';
export * from './tokens.ts';
export * from './auth.ts';
export * from './build-request.ts';
