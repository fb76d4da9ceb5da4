// One long-lived perl process per stack process that makes FIFOs, mounts and
// unmounts on request: Node has neither mkfifo(3) nor mount(2), and starting
// mkfifo(1) or mount(8) costs a whole process each time (~20–35 ms of CPU on
// the 2-core development VM, where exec is the dearest thing a container
// start does). perl-base is Essential on Debian and Ubuntu; where perl is
// missing, or the architecture's syscall numbers are not known here, callers
// fall back to the commands (PerlHelper.create returns undefined).
//
// Protocol: one request per line on perl's stdin: a number naming it, then
// its fields, separated by tabs, each field hex-encoded (so no path can break
// a line); one answer line per request, starting with its number: `ok`, or
// `err<TAB>errno<TAB>message`. Answers come in the order requests were made,
// except a `run`'s, which comes when its command ends (other requests are
// served meanwhile: one helper serves the runtime and the network layer).
// perl exits at EOF on its stdin (after the runs under way), so it never
// outlives us, and it is unreferenced while idle, so it never keeps us alive.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { InternalError, SystemError } from "../errors.js";
import type { CommandResult } from "./command-runner.js";
import { takeEarlyCommands } from "./early-start.js";

/** mount(2), umount2(2), mknodat(2), setsid(2), setns(2) and pidfd_open(2) by architecture (Node's process.arch names). */
const SYSCALLS: Record<string, { mount: number; umount2: number; mknodat: number; setsid: number; setns: number; pidfd_open: number }> = {
  x64: { mount: 165, umount2: 166, mknodat: 259, setsid: 112, setns: 308, pidfd_open: 434 },
  arm64: { mount: 40, umount2: 39, mknodat: 33, setsid: 157, setns: 268, pidfd_open: 434 },
};

/**
 * One step of a container namespace's set-up, as `ip` would say it:
 * `link set IF up`, `addr add A.B.C.D/P dev IF`, `route add default via A.B.C.D`.
 */
export type NamespaceStep = { kind: "up"; ifname: string } | { kind: "addr"; ifname: string; address: string; prefix: number } | { kind: "route"; gateway: string };

// No modules (POSIX alone would add ~30 ms to perl's start here): FIFOs are
// mknodat(AT_FDCWD, path, S_IFIFO | mode, 0); rtnetlink messages are packed
// by hand (struct nlmsghdr, ifinfomsg, ifaddrmsg, rtmsg and rtattr of
// linux/netlink.h and linux/rtnetlink.h; every number below is from there).
const SCRIPT = String.raw`
use strict;
$| = 1; umask 0;
my ($sys_mount, $sys_umount2, $sys_mknodat, $sys_setsid, $sys_setns, $sys_pidfd_open) = map { $_ + 0 } @ARGV;
$SIG{CHLD} = "DEFAULT";
my $seq = 0;
sub rta { my ($type, $data) = @_; my $len = 4 + length($data); return pack("SS", $len, $type) . $data . ("\0" x ((4 - $len % 4) % 4)); }
# One request (NLM_F_REQUEST | NLM_F_ACK | extra flags); true when the kernel acknowledges it, else $! is its errno.
sub nl {
  my ($sock, $type, $flags, $body) = @_;
  $seq++;
  send($sock, pack("LSSLL", 16 + length($body), $type, 5 | $flags, $seq, 0) . $body, 0) or return 0;
  for (;;) {
    defined(recv($sock, my $buf, 8192, 0)) or return 0;
    while (length($buf) >= 16) {
      my ($len, $t, $f, $s) = unpack("LSSL", $buf);
      if ($t == 2 && $s == $seq) { my $e = unpack("x16 l", $buf); return 1 if $e == 0; $! = -$e; return 0; }
      last if $len < 16;
      $buf = substr($buf, ($len + 3) & ~3);
    }
  }
}
# Children that outlive their request (monitors, daemons) by pid, with a pidfd (Linux 5.3) that
# wakes the loop below when one ends, so it is reaped at once; without one, at the next request.
my (%monitors, %runs, %sockets);
sub pidfd { my $fd = syscall($sys_pidfd_open, $_[0], 0); my $h; return $fd >= 0 && open($h, "<&=", $fd) ? $h : undef; }
sub reap_monitors { for my $m (keys %monitors) { delete $monitors{$m} if waitpid($m, 1) != 0; } }
# Answers a run whose command ended: its exit status (128 + the signal when killed) and both outputs.
sub answer_run {
  my ($pid, $status) = @_;
  my $run = delete $runs{$pid};
  my $code = $status < 0 ? 127 : ($status & 127) ? 128 + ($status & 127) : ($status >> 8);
  my %text;
  for my $pair ([o => $run->{out}], [e => $run->{err}]) {
    my ($k, $fh) = @$pair; my $all = ""; my $buf;
    sysseek($fh, 0, 0);
    while (sysread($fh, $buf, 65536)) { $all .= $buf; }
    $text{$k} = unpack("H*", $all);
  }
  close($run->{in}); close($run->{out}); close($run->{err}); close($run->{pidfd}) if $run->{pidfd};
  print "$run->{id}\tok\t$code\t$text{o}\t$text{e}\n";
}
my $input = "";
for (;;) {
  my $nl = index($input, "\n");
  if ($nl < 0) {
    # Wait for a request or the end of a run's command (its pidfd turns readable); at the end of
    # the input, finish the runs under way and leave.
    my $rin = ""; vec($rin, 0, 1) = 1;
    vec($rin, fileno($_->{pidfd}), 1) = 1 for values %runs;
    vec($rin, fileno($_), 1) = 1 for grep { ref } values %monitors;
    my $n = select(my $rout = $rin, undef, undef, undef);
    next if $n <= 0;
    reap_monitors() if grep { ref && vec($rout, fileno($_), 1) } values %monitors;
    for my $pid (keys %runs) {
      next unless vec($rout, fileno($runs{$pid}{pidfd}), 1);
      my $r = waitpid($pid, 1);
      next if $r == 0;
      answer_run($pid, $r < 0 ? -1 : $?);
    }
    if (vec($rout, 0, 1)) {
      my $got = sysread(STDIN, $input, 65536, length($input));
      if (defined $got && $got == 0) { for my $pid (keys %runs) { my $r = waitpid($pid, 0); answer_run($pid, $r < 0 ? -1 : $?) } exit 0; }
    }
    next;
  }
  my $line = substr($input, 0, $nl); $input = substr($input, $nl + 1);
  reap_monitors();
  my ($id, $fields) = split(/\t/, $line, 2);
  my ($op, @a) = map { pack("H*", $_) } split(/\t/, $fields // "", -1);
  my $ok = 0;
  if ($op eq "mkfifo") {
    my $mode = oct(shift @a); $ok = 1;
    for my $p (@a) { if (syscall($sys_mknodat, -100, "$p\0", 4096 | $mode, 0) != 0) { $ok = 0; last } }
  } elsif ($op eq "mount") {
    $ok = syscall($sys_mount, "$a[0]\0", "$a[1]\0", "$a[2]\0", 0, "$a[3]\0") == 0;
  } elsif ($op eq "umount") {
    $ok = syscall($sys_umount2, "$a[0]\0", 0) == 0;
  } elsif ($op eq "monitor") {
    # A container's monitor (see monitorArgv in src/runtime/container.ts), forked from here: no
    # interpreter to start, and one fork, answered at once (a fork costs ~5 ms here). It runs in a
    # session of its own with the FIFOs as stdout and stderr, and outlives this helper (reparented
    # when the helper ends); while the helper lives, an ended monitor is reaped at the next request.
    my ($out, $err, $exit_file, $size, @cmd) = @a;
    my ($o, $e, $pid);
    if (open($o, "+<", $out) && open($e, "+<", $err)) { $pid = fork }
    if (defined $pid && $pid == 0) {
      # A monitor lives as long as its container and never execs: it lets go of the helper's handles
      # (a held DNS socket would stay bound as long as it lives).
      %sockets = (); %runs = (); %monitors = ();
      syscall($sys_setsid); $0 = "stack-monitor $exit_file";
      open(STDIN, "<", "/dev/null"); open(STDOUT, ">&", $o) or exit 1; open(STDERR, ">&", $e) or exit 1; close($o); close($e);
      if ($size > 0) { fcntl(STDOUT, 1031, $size + 0); fcntl(STDERR, 1031, $size + 0); }
      my $code = 127; my $run = fork;
      if (defined $run && $run == 0) { exec { $cmd[0] } @cmd; exit 127; }
      if (defined $run) { waitpid($run, 0); $code = ($? & 127) ? 128 + ($? & 127) : ($? >> 8); }
      open(my $f, ">", "$exit_file.tmp") or exit 1; print $f "$code\n"; close($f) or exit 1; rename("$exit_file.tmp", $exit_file) or exit 1;
      exit 0;
    }
    my $errno = $! + 0;
    close($o) if $o; close($e) if $e;
    if (defined $pid) { $monitors{$pid} = pidfd($pid) // 1; $ok = 1; } else { $! = $errno }
  } elsif ($op eq "udp") {
    # A UDP socket bound to address:port and held here, unread, for a daemon to inherit (see
    # daemon): queries wait in its queue meanwhile. Answered with its descriptor's number.
    my ($addr, $port) = @a;
    my $s;
    if ($addr !~ /^\d+\.\d+\.\d+\.\d+$/) { $! = 22 }
    else { $ok = socket($s, 2, 2, 0) && bind($s, pack("S n C4 x8", 2, $port, split(/\./, $addr))) }
    if ($ok) { $sockets{fileno($s)} = $s; print "$id\tok\t" . fileno($s) . "\n"; next; }
  } elsif ($op eq "close") {
    delete $sockets{$_} for @a; $ok = 1;
  } elsif ($op eq "daemon") {
    # A daemon (the project's supervisor), forked from here rather than from the caller, in a
    # session of its own, its output appended to a log. It inherits, at their numbers, the held
    # sockets named and the FIFOs given, opened read-write here first (a pipe's bytes outlive its
    # container until the daemon reads them); the sockets are then closed here. Answered with its pid.
    my ($log, $fifos, $fds, @cmd) = @a;
    my @fifo_paths = grep { length } split(/\n/, $fifos);
    my @held = grep { length } split(/,/, $fds);
    my ($l, @f, $pid);
    $ok = sysopen($l, $log, 1 | 64 | 1024, 0640); # O_WRONLY | O_CREAT | O_APPEND
    for my $path (@fifo_paths) { last unless $ok; my $h; $ok = open($h, "+<", $path); push @f, $h if $ok; }
    if ($ok && grep { !$sockets{$_} } @held) { $! = 9; $ok = 0; } # EBADF: not a socket held here
    if ($ok) { $pid = fork; $ok = defined $pid; }
    if ($ok && $pid == 0) {
      syscall($sys_setsid);
      open(STDIN, "<", "/dev/null"); open(STDOUT, ">&", $l) or exit 127; open(STDERR, ">&", $l) or exit 127;
      fcntl($_, 2, 0) for (@f, map { $sockets{$_} } @held); # F_SETFD 0: kept across exec
      exec { $cmd[0] } @cmd;
      print STDERR "$cmd[0]: $!\n"; exit 127;
    }
    my $errno = $! + 0;
    close($l) if $l; close($_) for @f;
    if ($ok) { $monitors{$pid} = pidfd($pid) // 1; delete $sockets{$_} for @held; print "$id\tok\t$pid\n"; next; }
    $! = $errno;
  } elsif ($op eq "netns") {
    # The interfaces inside a named network namespace, over rtnetlink from this process: it joins
    # the namespace (setns), sends the steps and goes back; no ip process to start per container.
    my ($path, @steps) = @a;
    my ($host, $ns, $sock, $io);
    $ok = open($host, "<", "/proc/self/ns/net") && open($ns, "<", $path) && syscall($sys_setns, fileno($ns), 0x40000000) == 0;
    if ($ok) {
      # Sockets belong to the namespace they are made in: made after the setns.
      $ok = socket($sock, 16, 3, 0) && socket($io, 2, 2, 0);
      for my $step (@steps) {
        last unless $ok;
        my ($what, $if, @f) = split(/ /, $step);
        if ($what eq "up") {
          # RTM_NEWLINK by name (index 0): flags IFF_UP, change mask IFF_UP; IFLA_IFNAME.
          $ok = nl($sock, 16, 0, pack("CCSiII", 0, 0, 0, 0, 1, 1) . rta(3, "$if\0"));
        } elsif ($what eq "addr") {
          # SIOCGIFINDEX for the index, then RTM_NEWADDR (NLM_F_CREATE | NLM_F_EXCL) with IFA_LOCAL and IFA_ADDRESS.
          my $ifr = pack("a16 x24", $if);
          $ok = ioctl($io, 0x8933, $ifr);
          if ($ok) {
            my $addr = pack("H*", $f[0]);
            $ok = nl($sock, 20, 0x600, pack("CCCCi", 2, $f[1], 0, 0, unpack("x16 i", $ifr)) . rta(2, $addr) . rta(1, $addr));
          }
        } elsif ($what eq "route") {
          # RTM_NEWROUTE (NLM_F_CREATE | NLM_F_EXCL): default (dst_len 0), main table, proto boot, scope universe, unicast; RTA_GATEWAY.
          $ok = nl($sock, 24, 0x600, pack("CCCCCCCCI", 2, 0, 0, 0, 254, 3, 0, 1, 0) . rta(5, pack("H*", $if)));
        } else {
          $! = 22; $ok = 0;
        }
      }
      my $errno = $! + 0;
      close($sock) if $sock; close($io) if $io;
      # Never serve the next request from inside a container's namespace: rather end (the caller starts another helper).
      syscall($sys_setns, fileno($host), 0x40000000) == 0 or die "cannot return to the host's network namespace: $!\n";
      $! = $errno;
    }
    my $errno = $! + 0;
    close($host) if $host; close($ns) if $ns;
    $! = $errno;
  } elsif ($op eq "run") {
    # A command run to its end (ip -j, nft, iptables …), forked from here: a fork of this small
    # process, where one of the caller's costs it ~10 ms. Input, output and errors go through
    # anonymous temporary files (no pipe to deadlock on). Answered when it ends (answer_run), with
    # its exit status (128 + the signal when killed) and both outputs; other requests meanwhile.
    my ($input, @cmd) = @a;
    my ($in, $out, $err);
    $ok = open($in, "+>", undef) && open($out, "+>", undef) && open($err, "+>", undef);
    if ($ok) {
      syswrite($in, $input); sysseek($in, 0, 0);
      my $pid = fork;
      if (defined $pid && $pid == 0) {
        close(STDIN); open(STDIN, "<&", $in); open(STDOUT, ">&", $out); open(STDERR, ">&", $err);
        exec { $cmd[0] } @cmd;
        syswrite(STDERR, "$cmd[0]: $!\n"); exit 127;
      }
      if (defined $pid) {
        $runs{$pid} = { id => $id, in => $in, out => $out, err => $err };
        # Its end is watched through a pidfd; without one, it is waited for here.
        my $pfh = pidfd($pid);
        if ($pfh) { $runs{$pid}{pidfd} = $pfh }
        else { my $r = waitpid($pid, 0); answer_run($pid, $r < 0 ? -1 : $?) }
        next;
      }
      $ok = 0;
    }
  } else {
    $! = 22;
  }
  if ($ok) { print "$id\tok\n" } else { printf "%s\terr\t%d\t%s\n", $id, $! + 0, "$!" }
}
`;

export class PerlHelperError extends Error {
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
  }
}

interface Waiter {
  /** With what follows `ok<TAB>` on the answer line (empty for a bare `ok`). */
  resolve: (payload: string) => void;
  reject: (e: Error) => void;
}

const hex = (s: string) => Buffer.from(s, "utf8").toString("hex");

/** One perl process and the requests it has yet to answer, by number. */
interface Session {
  child: ChildProcess;
  waiting: Map<number, Waiter>;
  lastId: number;
  partial: string;
}

export class PerlHelper {
  private session: Session | undefined;

  private constructor(
    /** perl's path (other one-shot perl uses may share it). */
    readonly perl: string,
    private readonly numbers: (typeof SYSCALLS)[string],
  ) {}

  /** The helper, or undefined where perl or the syscall numbers are missing (use the commands then). */
  static create(arch: string = process.arch, perlPaths: string[] = ["/usr/bin/perl", "/bin/perl"]): PerlHelper | undefined {
    const numbers = SYSCALLS[arch];
    const perl = perlPaths.find((p) => existsSync(p));
    return numbers && perl ? new PerlHelper(perl, numbers) : undefined;
  }

  /** Starts perl now (it takes tens of ms), so that the first request finds it ready. */
  warm(): void {
    this.session ??= this.start();
  }

  /** FIFOs with exactly `mode` (no umask). */
  mkfifo(paths: string[], mode: number): Promise<void> {
    return this.request(["mkfifo", mode.toString(8), ...paths]);
  }

  /** mount(2) without flags: `data` is the option string (`lowerdir=…,upperdir=…`). */
  mount(source: string, target: string, fstype: string, data: string): Promise<void> {
    return this.request(["mount", source, target, fstype, data]);
  }

  /** umount2(2) without flags. */
  umount(target: string): Promise<void> {
    return this.request(["umount", target]);
  }

  /**
   * Starts a container's monitor (a forked copy of this perl, in a session of
   * its own): it opens `stdout` and `stderr` (the FIFOs) read-write as its
   * output, raises their pipe buffer to `pipeBytes` (0: the kernel's), runs
   * `argv` and writes its exit status into `exitFile` as monitorArgv's does.
   * Resolves once it is forked; it outlives this helper and its caller.
   */
  monitor(stdout: string, stderr: string, exitFile: string, pipeBytes: number, argv: string[]): Promise<void> {
    return this.request(["monitor", stdout, stderr, exitFile, String(pipeBytes), ...argv]);
  }

  /** A UDP socket bound to `address`:`port` (IPv4), held by the helper, unread, for a daemon to inherit: its descriptor's number there. */
  async bindUdp(address: string, port: number): Promise<number> {
    return Number(await this.ask(["udp", address, String(port)]));
  }

  /** Closes sockets that bindUdp made (and no daemon took). */
  closeFds(fds: number[]): Promise<void> {
    return this.request(["close", ...fds.map(String)]);
  }

  /**
   * Starts `argv` as a daemon forked from the helper (no fork of this large
   * process): a session of its own, stdin /dev/null, stdout and stderr
   * appended to `log` (made 0640), and inherited at their numbers the
   * sockets `fds` (from bindUdp; the helper closes its copies) and the FIFOs
   * `fifos`, opened read-write by the helper first. Resolves with its pid;
   * the helper reaps it if it ends first.
   */
  async daemon(log: string, fifos: string[], fds: number[], argv: string[]): Promise<number> {
    return Number(await this.ask(["daemon", log, fifos.join("\n"), fds.join(","), ...argv]));
  }

  /**
   * Runs `steps` inside the network namespace bound at `netnsPath` (an `ip
   * netns` name's file), in order, stopping at the first that fails: the
   * helper joins the namespace, speaks rtnetlink there, and comes back. The
   * error carries the kernel's errno (EEXIST for an address or route already
   * there, ENODEV for an unknown interface).
   */
  configureNamespace(netnsPath: string, steps: NamespaceStep[]): Promise<void> {
    const words = steps.map((s) => {
      switch (s.kind) {
        case "up":
          return `up ${s.ifname}`;
        case "addr":
          return `addr ${s.ifname} ${ipv4Hex(s.address)} ${s.prefix}`;
        case "route":
          return `route ${ipv4Hex(s.gateway)}`;
      }
    });
    return this.request(["netns", netnsPath, ...words]);
  }

  /**
   * Runs `argv` to its end, forked from the helper (not from this process:
   * a fork of a large Node process costs its thread 6–13 ms here), with
   * `input` as its stdin. A command that cannot start ends with 127 and
   * `argv0: reason` on stderr. The helper serves other requests meanwhile
   * (it watches the command's end through a pidfd).
   */
  async run(argv: string[], options: { input?: string } = {}): Promise<CommandResult> {
    const payload = await this.ask(["run", options.input ?? "", ...argv]);
    const [code, out, err] = payload.split("\t");
    return { exitCode: Number(code), stdout: Buffer.from(out ?? "", "hex").toString("utf8"), stderr: Buffer.from(err ?? "", "hex").toString("utf8") };
  }

  /** Ends the perl process once it has answered what it was asked (it would end with us anyway); the next request starts another. */
  close(): void {
    this.session?.child.stdin?.end();
    this.session = undefined;
  }

  private request(fields: string[]): Promise<void> {
    return this.ask(fields).then(() => undefined);
  }

  private ask(fields: string[]): Promise<string> {
    const session = this.session ?? this.start();
    return new Promise<string>((resolve, reject) => {
      if (session.waiting.size === 0) hold(session.child, true);
      const id = ++session.lastId;
      session.waiting.set(id, { resolve, reject });
      session.child.stdin!.write(`${id}\t${fields.map(hex).join("\t")}\n`);
    });
  }

  private start(): Session {
    const child = spawn(this.perl, ["-e", SCRIPT, String(this.numbers.mount), String(this.numbers.umount2), String(this.numbers.mknodat), String(this.numbers.setsid), String(this.numbers.setns), String(this.numbers.pidfd_open)], { stdio: ["pipe", "pipe", "pipe"], env: helperEnv() });
    const session: Session = { child, waiting: new Map(), lastId: 0, partial: "" };
    this.session = session;
    let stderr = "";
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => (stderr += d));
    child.stdin!.on("error", () => undefined); // perl gone: "exit" below fails what waits
    child.stdout!.on("data", (d: string) => answer(session, d));
    const gone = (why: string) => {
      if (this.session === session) this.session = undefined;
      const waiting = [...session.waiting.values()];
      session.waiting.clear();
      for (const w of waiting) {
        w.reject(new SystemError(`the perl helper ended (${why})${stderr ? `: ${stderr.trim()}` : ""}`, { hint: "perl (Debian's perl-base) must run; STACK_DEBUG=1 shows the trace" }));
      }
    };
    child.on("error", (e) => gone(e.message));
    child.on("exit", (code, signal) => gone(signal ? `signal ${signal}` : `exit ${code}`));
    hold(child, false);
    return session;
  }
}

/** "172.30.0.2" → "ac1e0002" (network byte order, as rtnetlink takes it). */
function ipv4Hex(address: string): string {
  const parts = address.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new InternalError(`not an IPv4 address: ${JSON.stringify(address)}`);
  return parts.map((p) => Number(p).toString(16).padStart(2, "0")).join("");
}

function answer(session: Session, data: string): void {
  session.partial += data;
  let nl: number;
  while ((nl = session.partial.indexOf("\n")) >= 0) {
    const tab = session.partial.indexOf("\t");
    const id = Number(session.partial.slice(0, tab));
    const line = session.partial.slice(tab + 1, nl);
    session.partial = session.partial.slice(nl + 1);
    const w = session.waiting.get(id);
    if (!w) continue;
    session.waiting.delete(id);
    if (line === "ok" || line.startsWith("ok\t")) w.resolve(line.slice(3));
    else {
      const [, errno, message] = line.split("\t");
      w.reject(new PerlHelperError(message ?? line, Number(errno) || 0));
    }
    if (session.waiting.size === 0) hold(session.child, false);
  }
}

/** Keeps the event loop alive while answers are due, and only then. */
function hold(child: ChildProcess, on: boolean): void {
  for (const h of [child, child.stdin, child.stdout, child.stderr] as Array<{ ref?: () => void; unref?: () => void } | null>) {
    if (on) h?.ref?.();
    else h?.unref?.();
  }
}

/**
 * The helper's environment, which what it starts inherits: this process's,
 * with GOMAXPROCS=1 unless the user set one. The helper's monitors start
 * runc, the one Go program stack runs, and Go runs its scheduler and garbage
 * collector on a thread per core: a `runc run` sharing the 2 cores of the
 * development VM with the CLI and other runc's costs ~4 ms of CPU less with
 * one (`up -d` of 4 services ~3% faster, interleaved). Not set in this
 * process itself: a stack file's `${GOMAXPROCS}` must still read the
 * user's. A container never sees it (runc gives `runc init` an environment
 * of its own, and a container's is its spec's).
 */
export function helperEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return env.GOMAXPROCS === undefined ? { ...env, GOMAXPROCS: "1" } : env;
}

let shared: PerlHelper | undefined | null = null;

/**
 * The process's one helper, or undefined where it cannot run: the one
 * bin/stack started early for `up` (src/cli/prestart.ts; a PerlHelper of the
 * prestart script's own copy of this module), else one made now.
 */
export function perlHelper(): PerlHelper | undefined {
  if (shared === null) shared = (takeEarlyCommands() as PerlHelper | undefined) ?? PerlHelper.create();
  return shared;
}
