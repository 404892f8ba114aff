#!/usr/bin/env python3
"""A kubelet for one node, as far as ldmesh's deployment needs one.

Runs the pod template of a workload from a manifest file the way a kubelet
would, on this machine, for tests/e2e/test_deploy.sh (which calls it inside
private mount and network namespaces):

  kubelet.py run FILE KIND NAME --node N --logs DIR [--api HOST:PORT]
      init containers one after another (each must exit 0), then the
      containers in the background; their pids in DIR/<container>.pid,
      their output in DIR/<container>.log
  kubelet.py probe FILE KIND NAME CONTAINER liveness|readiness|startup
      runs that exec probe as the kubelet would; exits with its status
  kubelet.py exec FILE KIND NAME CONTAINER -- CMD...
      `kubectl exec`: CMD with the container's environment and privileges

What it honours: command and args with $(VAR) expansion; env values and
the downward API (spec.nodeName, metadata.namespace, metadata.name);
hostPath volumes (Directory must exist, DirectoryOrCreate makes it 0755)
mounted read-only where the pod says so; securityContext capabilities
(bounding set), allowPrivilegeEscalation (no_new_privs), runAsUser and
runAsGroup, readOnlyRootFilesystem. Each container gets a mount namespace
of its own. The simplification: a volume is mounted at its own host path,
so a hostPath's mountPath must equal its path (checked).
"""
import os
import re
import shlex
import subprocess
import sys

import yaml

FIELDS = {"spec.nodeName": "node", "metadata.namespace": "namespace",
          "metadata.name": "pod"}


def die(msg):
    print("kubelet.py: " + msg, file=sys.stderr)
    sys.exit(2)


def workload(path, kind, name):
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") == kind and doc["metadata"]["name"] == name:
                if kind == "Pod":
                    return doc["metadata"], doc["spec"]
                return doc["metadata"], doc["spec"]["template"]["spec"]
    die(f"{path}: no {kind} {name}")


def expand(s, env):
    # Kubernetes' $(VAR): expanded when VAR is defined, kept otherwise;
    # $$ escapes.
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), s)


def environment(c, meta, node, api):
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOSTNAME": meta["name"]}
    if api:
        host, port = api.rsplit(":", 1)
        env.update(KUBERNETES_SERVICE_HOST=host, KUBERNETES_SERVICE_PORT=port)
    ctx = {"node": node, "namespace": meta.get("namespace", "default"), "pod": meta["name"]}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = expand(str(e["value"]), env)
        elif "fieldRef" in e.get("valueFrom", {}):
            field = e["valueFrom"]["fieldRef"]["fieldPath"]
            if field not in FIELDS:
                die(f"env {e['name']}: fieldRef {field} not simulated")
            env[e["name"]] = ctx[FIELDS[field]]
        else:
            die(f"env {e['name']}: only value and fieldRef are simulated")
    return env


def mounts(pod, c):
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    out = []
    for m in c.get("volumeMounts", []):
        v = vols.get(m["name"]) or die(f"volumeMount {m['name']}: no such volume")
        hp = v.get("hostPath") or die(f"volume {m['name']}: only hostPath is simulated")
        if hp["path"] != m["mountPath"]:
            die(f"volume {m['name']}: mountPath {m['mountPath']} is not its host path "
                f"{hp['path']} (this kubelet mounts a volume at its own path)")
        kind = hp.get("type", "")
        if kind == "DirectoryOrCreate":
            os.makedirs(hp["path"], mode=0o755, exist_ok=True)
        elif kind == "Directory" and not os.path.isdir(hp["path"]):
            die(f"volume {m['name']}: hostPath type check failed: {hp['path']} is not a directory")
        out.append((hp["path"], bool(m.get("readOnly"))))
    return out


def wrap(pod, c, argv):
    """The shell line that runs argv as the container: its own mount
    namespace with the volumes and a read-only root, then its privileges."""
    sc = c.get("securityContext", {})
    setup = []
    if sc.get("readOnlyRootFilesystem"):
        setup.append("mount -o remount,bind,ro / || exit 125")
    for path, ro in mounts(pod, c):
        q = shlex.quote(path)
        setup.append(f"mount --bind {q} {q} || exit 125")
        if ro:
            setup.append(f"mount -o remount,bind,ro {q} || exit 125")
    priv = ["setpriv"]
    caps = sc.get("capabilities", {})
    if "ALL" in caps.get("drop", []):
        keep = "".join(",+" + a.lower() for a in caps.get("add", []))
        priv += ["--bounding-set", "-all" + keep, "--inh-caps", "-all"]
    if sc.get("allowPrivilegeEscalation") is False:
        priv.append("--no-new-privs")
    if "runAsUser" in sc:
        priv += ["--reuid", str(sc["runAsUser"]), "--regid", str(sc.get("runAsGroup", sc["runAsUser"])),
                 "--clear-groups"]
    if sc.get("privileged"):
        die(f"container {c['name']}: privileged")
    line = " && ".join(setup + ["exec " + " ".join(shlex.quote(a) for a in priv + ["--"] + argv)])
    # the mounts are the container's: private, as a runtime makes them
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", line]


def argv_of(c, env):
    argv = [expand(a, env) for a in c.get("command", []) + c.get("args", [])]
    return argv or die(f"container {c['name']}: no command (the image's entrypoint is not simulated)")


def container(pod, name):
    for c in pod.get("initContainers", []) + pod.get("containers", []):
        if c["name"] == name:
            return c
    die(f"no container {name}")


def run(args):
    path, kind, name = args[:3]
    opts = dict(zip(args[3::2], args[4::2]))
    meta, pod = workload(path, kind, name)
    node, logs, api = opts["--node"], opts["--logs"], opts.get("--api")
    for c in pod.get("initContainers", []):
        env = environment(c, meta, node, api)
        with open(os.path.join(logs, c["name"] + ".log"), "ab") as log:
            rc = subprocess.call(wrap(pod, c, argv_of(c, env)), env=env, stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if rc:
            die(f"init container {c['name']} exited {rc} (its log: {logs}/{c['name']}.log)")
    for c in pod["containers"]:
        env = environment(c, meta, node, api)
        log = open(os.path.join(logs, c["name"] + ".log"), "ab")
        p = subprocess.Popen(wrap(pod, c, argv_of(c, env)), env=env, stdout=log,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        with open(os.path.join(logs, c["name"] + ".pid"), "w") as f:
            f.write(f"{p.pid}\n")


def in_container(args, argv):
    path, kind, name, cname = args[:4]
    meta, pod = workload(path, kind, name)
    c = container(pod, cname)
    env = environment(c, meta, os.environ.get("KUBELET_NODE", "node-a"), None)
    return subprocess.call(wrap(pod, c, argv), env=env, stdin=subprocess.DEVNULL)


def main():
    if len(sys.argv) < 2:
        die(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "run":
        run(args)
    elif cmd == "probe":
        meta, pod = workload(*args[:3])
        probe = container(pod, args[3]).get(args[4] + "Probe") or die(f"no {args[4]} probe")
        sys.exit(in_container(args, probe["exec"]["command"]))
    elif cmd == "exec":
        sys.exit(in_container(args, args[args.index("--") + 1:]))
    else:
        die(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
