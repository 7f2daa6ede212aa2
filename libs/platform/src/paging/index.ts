export * from './page-token';
export * from './page';
