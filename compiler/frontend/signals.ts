// Linux's signal numbers by name, as x86-64 and arm64 number them (the architectures tsbpf compiles for), for
// signal("SIGUSR1") and signal("USR1"): bpftrace's signal() takes a name with or without its SIG.

export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
  SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19,
  SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28,
  SIGIO: 29, SIGPWR: 30, SIGSYS: 31,
};

/** A signal's number by its name (`SIGUSR1` or `USR1`), or undefined. */
export const signalNumber = (name: string): number | undefined => SIGNALS[name.startsWith("SIG") ? name : `SIG${name}`];
