import type { DeployImages, DeploySettings } from './settings.js';

/** Writes the EB source bundle (bundle.ts has the real one). */
export interface BundleWriter {
  /**
   * Writes the source bundle for `settings` running `images`, and resolves to the zip's path and a hash
   * of its content: the same settings and images give the same hash, which names the application version
   * (so an unchanged deployment makes no new version). The bundle never holds the deployment token.
   */
  write(settings: DeploySettings, images: DeployImages): Promise<{ zip: string; hash: string }>;
}
