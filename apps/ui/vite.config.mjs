import { defineConfig } from 'vite';

// `npm run dev -w @voxfleet/ui` proxies the API to a local voxbridge; VOXUI_BRIDGE_URL
// overrides its address (default http://127.0.0.1:7700).
const bridgeUrl = process.env.VOXUI_BRIDGE_URL ?? 'http://127.0.0.1:7700';

export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: { proxy: { '/v1': bridgeUrl } },
});
