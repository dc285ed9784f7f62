#!/usr/bin/env bash
# Build kube-apiserver, kubectl and etcd from the versions pinned in lab/k8s/go.mod and go.sum into
# OUT_DIR (make k8s). Reused while the pins and this script are unchanged: OUT_DIR/.pins holds the hash of
# both that they were built from.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
pins=$(cat "$here/go.mod" "$here/go.sum" "$0" | sha256sum | cut -d' ' -f1)
declare -A packages=(
    [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
    [kubectl]=k8s.io/kubernetes/cmd/kubectl
    [etcd]=go.etcd.io/etcd/server/v3
)
if [ "$(cat "$out/.pins" 2>/dev/null)" = "$pins" ] \
   && [ -x "$out/kube-apiserver" ] && [ -x "$out/kubectl" ] && [ -x "$out/etcd" ]; then
    echo "k8s: kube-apiserver, kubectl and etcd in $out are built from the current pins"
    exit 0
fi
command -v go >/dev/null || { echo "k8s: needs Go (go.mod names the version) to build the API server" >&2; exit 1; }
versions=$(cd "$here" && go list -m -f '{{.Path}} {{.Version}}' k8s.io/kubernetes go.etcd.io/etcd/server/v3 | tr '\n' ' ')
echo "k8s: building kube-apiserver, kubectl and etcd ($versions) into $out"
echo "k8s: a first build downloads the modules and compiles for several minutes; later builds reuse Go's cache"
start=$(date +%s)
rm -f "$out/.pins"
for name in kube-apiserver kubectl etcd; do
    (cd "$here" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" \
        go build -ldflags=-s -o "$out/$name" "${packages[$name]}")
    echo "k8s: built $name ($(( $(date +%s) - start )) s so far)"
done
echo "$pins" > "$out/.pins"
echo "k8s: done in $(( $(date +%s) - start )) s"
