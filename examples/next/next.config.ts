import type { NextConfig } from 'next';

// Nothing for @cgk/db: it needs no serverExternalPackages or transpilePackages entry (see README.md).
const nextConfig: NextConfig = {};

export default nextConfig;
