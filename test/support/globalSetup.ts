import { startTestInfrastructure } from './infrastructure';

/**
 * One Postgres (DATABASE_URL, else embedded) and one Temporal dev server for the whole run.
 * Test files each create their own database and task queue, so they never see each other.
 */
export default async function globalSetup(): Promise<void> {
  await startTestInfrastructure();
}
