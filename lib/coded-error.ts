// The one error shape of this code base: a class per layer or concern, a machine-readable `code`
// that callers and tests branch on, and a one-line message a user can read. `name` is the class
// name, so logs and `instanceof` agree without each class restating it.

export class CodedError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
