import { defineConfig } from "vite";

// The gateway serves dist/ at `/` and dist/assets/* at `/assets/*`; `npm run dev` proxies the
// API to a gateway on 30080.
export default defineConfig({
  build: { target: "es2022", assetsDir: "assets", chunkSizeWarningLimit: 200 },
  server: {
    proxy: Object.fromEntries(
      ["/api", "/v1", "/health"].map((p) => [p, { target: "http://localhost:30080", changeOrigin: true }]),
    ),
  },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
