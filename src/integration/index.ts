/** Integration events: the public contracts, their envelope and subjects, and the stream. */
export * from './contracts';
export * from './envelope';
export * from './subjects';
export * from './stream';
