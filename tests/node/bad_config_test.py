#!/usr/bin/python3
"""Wrong config files and flags: overlay-node refuses each with exit status 2 and one line
on stderr that names the file, the line and the key, and never starts. The shipped example
config and --print-config output are valid, and --check says so.
Usage: bad_config_test.py OVERLAY_NODE EXAMPLE_CONFIG"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

NODE_BIN, EXAMPLE = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="overlay-node-config-")

# (what is wrong, file text, the line the error must name, text the error must contain)
CASES = [
    ("unknown key", "[relay]\nenabled = true\nbytes_per_mont = 5\n", 3, "unknown key 'relay.bytes_per_mont'"),
    ("wrong type", "[introducer]\nmax_registrations = \"many\"\n", 2,
     "introducer.max_registrations: expected an integer, got a string"),
    ("out of range", "[relay]\nmax_sessions = 0\n", 2, "relay.max_sessions: 0 is out of range"),
    ("bad endpoint", "[metrics]\nlisten = \"localhost:9464\"\n", 2, "metrics.listen: \"localhost:9464\" is not IP:PORT"),
    ("duplicate key", "[relay]\nmax_sessions = 5\nmax_sessions = 6\n", 3, "max_sessions"),
    ("TOML syntax error", "[relay\nmax_sessions = 5\n", 1, "expected ']'"),
    ("unknown table", "[node]\nlog_level = \"info\"\n[relays]\nenabled = false\n", 3, "unknown table [relays]"),
    ("negative number", "[relay]\nbytes_per_month = -1\n", 2, "relay.bytes_per_month: -1 is out of range"),
    ("empty bootstrap string", "[node]\nbootstrap = [\"192.0.2.1:6881\", \"\"]\n", 2,
     "node.bootstrap: \"\" is not IP:PORT"),
    ("bad log level", "[node]\nlog_level = \"verbose\"\n", 2, "node.log_level: \"verbose\" is not a log level"),
    ("key outside any table", "max_registrations = 5\n", 1, "key 'max_registrations' must be inside a table"),
    ("fraction for an integer", "[relay]\nmax_sessions = 2.5\n", 2,
     "relay.max_sessions: expected an integer, got a number with a fraction"),
    ("string for a boolean", "[relay]\nenabled = \"no\"\n", 2, "relay.enabled: expected true or false, got a string"),
    ("bootstrap port 0", "[node]\nbootstrap = [\"192.0.2.1:0\"]\n", 2, "node.bootstrap: \"192.0.2.1:0\" is not IP:PORT"),
    ("list of numbers", "[node]\nbootstrap = [1, 2]\n", 2, "node.bootstrap: expected a list of strings, found an integer"),
]

failures = []


def run(*args):
    return subprocess.run([NODE_BIN, *args], capture_output=True, text=True, timeout=10)


def expect_refusal(what, args, must_contain, line=None, path=None):
    r = run(*args)
    lines = r.stderr.splitlines()
    location = f"{path}:{line}: " if line is not None else ""
    if r.returncode != 2:
        failures.append(f"{what}: exit status {r.returncode}, stderr {r.stderr!r}")
    elif len(lines) != 1:
        failures.append(f"{what}: {len(lines)} lines on stderr: {r.stderr!r}")
    elif not lines[0].startswith("overlay-node: " + location) or must_contain not in lines[0]:
        failures.append(f"{what}: expected '{location}...{must_contain}', got {lines[0]!r}")
    elif "started" in r.stdout + r.stderr:
        failures.append(f"{what}: the node started")
    else:
        print(f"ok   {what}: {lines[0]}")


for i, (what, text, line, must_contain) in enumerate(CASES):
    path = os.path.join(work, f"case{i}.toml")
    with open(path, "w") as f:
        f.write(text)
    # --check and a real start must refuse the same way.
    expect_refusal(what + " (--check)", ["--config", path, "--check"], must_contain, line, path)
    expect_refusal(what, ["--config", path, "--listen", "127.0.0.1:0"], must_contain, line, path)

expect_refusal("missing file", ["--config", os.path.join(work, "absent.toml")], "cannot read the config file")
# Command-line twins are checked with the same rules, and named by their flag.
expect_refusal("flag out of range", ["--max-registrations", "0"], "--max-registrations: 0 is out of range")
expect_refusal("flag bad endpoint", ["--metrics", "9464"], "--metrics: \"9464\" is not IP:PORT")

# The example config is valid and holds exactly the defaults.
r = run("--config", EXAMPLE, "--check")
if r.returncode != 0 or r.stdout.strip() != "configuration is valid":
    failures.append(f"example config: --check gave {r.returncode}: {r.stdout!r} {r.stderr!r}")
example = run("--config", EXAMPLE, "--print-config").stdout
defaults = run("--print-config").stdout
if example != defaults:
    failures.append("the example config does not hold the defaults: regenerate it with overlay-node --print-config")
keys_in_example = set(re.findall(r"^#? ?([a-z_]+) = ", open(EXAMPLE).read(), re.M))
keys_printed = set(re.findall(r"^([a-z_]+) = ", defaults, re.M))
if keys_in_example != keys_printed:
    failures.append(f"example config keys differ: {sorted(keys_in_example ^ keys_printed)}")

# --print-config reflects file and flags (flags win), and its output loads back.
path = os.path.join(work, "good.toml")
with open(path, "w") as f:
    f.write("[relay]\nmax_sessions = 7\nbytes_per_second = 50000\n[introducer]\nmax_registrations = 11\n")
printed = run("--config", path, "--relay-sessions", "9", "--print-config").stdout
if "max_sessions = 9\n" not in printed or "bytes_per_second = 50000\n" not in printed \
        or "max_registrations = 11\n" not in printed:
    failures.append(f"--print-config does not show file and flags: {printed}")
round_trip = os.path.join(work, "printed.toml")
with open(round_trip, "w") as f:
    f.write(printed)
if run("--config", round_trip, "--print-config").stdout != printed:
    failures.append("--print-config output does not load back to the same configuration")

if failures:
    print(f"(files kept in {work})")
    print("FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
shutil.rmtree(work)
print("PASS")
