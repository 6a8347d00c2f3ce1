// Opening the state's change journal after a crash: what it holds goes to LMDB first.
import { join } from 'node:path';
import type { RootDatabase } from 'lmdb';
import { ChangeJournal } from './change-journal.js';
import { GroupSync } from './group-sync.js';
import { PendingChanges, type NodeFields, type StoreTables } from './pending-changes.js';

/**
 * Writes the commits a crash left in the journal of `dir` to LMDB, syncs them and deletes the files
 * that held them; returns the journal, appending to a new generation.
 */
export async function replayJournal<N extends NodeFields>(dir: string, env: RootDatabase, tables: StoreTables<N>): Promise<ChangeJournal> {
  const { journal, found, lastFound } = ChangeJournal.open(dir);
  if (lastFound === 0) return journal;
  try {
    if (found.length > 0) {
      const replay = new PendingChanges<N>();
      for (const changes of found) replay.addCommit(changes);
      env.transactionSync(() => replay.writeTo(tables));
      const sync = new GroupSync(join(dir, 'data.mdb'));
      await sync.sync().finally(() => sync.close());
    }
    journal.drop(lastFound);
  } catch (e) {
    journal.close();
    throw e;
  }
  return journal;
}
