import type { ReactNode } from 'react';

export const metadata = { title: 'CGK example' };

/** The root layout the app router requires. */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
