export * from './mutations';
