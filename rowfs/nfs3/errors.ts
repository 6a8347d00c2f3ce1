// A non-OK NFS status turned into an exception, for callers that prefer throwing (the client
// methods themselves return the status union so a proxy can pass statuses through untouched).
import { Nfs3Status } from './types.js';
import { CodedError } from '../../lib/coded-error.js';

export class Nfs3Error extends CodedError<string> {
  constructor(
    readonly status: Nfs3Status,
    readonly procedure: string,
  ) {
    super(Nfs3Status[status] ?? String(status), `${procedure}: NFS3ERR_${Nfs3Status[status] ?? status}`);
  }
}

/** Returns the OK arm of `res` or throws Nfs3Error with its status. */
export function expectOk<R extends { status: Nfs3Status }>(res: R, procedure: string): Extract<R, { status: Nfs3Status.OK }> {
  if (res.status !== Nfs3Status.OK) throw new Nfs3Error(res.status, procedure);
  return res as Extract<R, { status: Nfs3Status.OK }>;
}
