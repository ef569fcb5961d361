#!/usr/bin/env bash
# Writes a two-layer busybox image as an OCI image-layout tar (what `ctr images import`
# takes): layer 1 has busybox and its applets, layer 2 /etc and a marker file. Only Debian's
# busybox-static, tar and sha256sum are needed.
#   busybox-oci.sh OUT.tar [NAME]
set -euo pipefail
out=$1
name=${2:-docker.io/library/berth-busybox:latest}
busybox=$(command -v busybox)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/l1/bin" "$work/l2/etc" "$work/oci/blobs/sha256"

cp "$busybox" "$work/l1/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$work/l1/bin/$applet"
done
mkdir -p "$work/l1/proc" "$work/l1/sys" "$work/l1/dev" "$work/l1/tmp" "$work/l1/root"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$work/l2/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/l2/etc/group"
echo "from layer 2" >"$work/l2/etc/layer2"

blob() { # file media-type -> prints a descriptor, moves the file into blobs/
  local digest size
  digest=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  mv "$1" "$work/oci/blobs/sha256/$digest"
  printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$2" "$digest" "$size"
}
layers="" diffs=""
for l in l1 l2; do
  tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$work/$l" -cf "$work/$l.tar" .
  diffs="$diffs${diffs:+,}\"sha256:$(sha256sum "$work/$l.tar" | cut -d' ' -f1)\""
  layers="$layers${layers:+,}$(blob "$work/$l.tar" application/vnd.oci.image.layer.v1.tar)"
done
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
  "$diffs" >"$work/config.json"
config=$(blob "$work/config.json" application/vnd.oci.image.config.v1+json)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
  "$config" "$layers" >"$work/manifest.json"
manifest=$(blob "$work/manifest.json" application/vnd.oci.image.manifest.v1+json)
manifest=${manifest%\}}
printf '{"schemaVersion":2,"manifests":[%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"latest"}}]}' \
  "$manifest" "$name" >"$work/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"
tar -C "$work/oci" -cf "$out" .
