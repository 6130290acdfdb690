// oidc-provider's internal configuration store (used only by src/oidc/extensions/implicit.ts).
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  const instance: (provider: unknown) => unknown;
  export default instance;
}
