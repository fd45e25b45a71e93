"""The files a container sees from ConfigMaps in the input: each ``volumeMounts`` entry of a
``configMap`` (or ``projected``) volume, with ``items`` and ``subPath`` as the kubelet applies
them, and for each file the ConfigMap value that fills it and where that value is written.

A value written as a literal block (``|``) keeps its lines and columns in the manifest, so a
reader can be given the manifest's own text with everything else blanked out: what it reports
about line N, column C is then line N, column C of the manifest (see ``MountedFile.in_place``).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from confgen.files import read_text_file
from confgen.manifests.documents import MAX_FILE_BYTES, Document, Node
from confgen.manifests.resources import Container, Workload

_NOT_NEWLINE = re.compile(r"[^\n]")


@dataclass
class MountedFile:
    path: str           # where the container sees it
    text: str           # what it holds: the ConfigMap's value
    node: Node          # the value in the manifest
    source: str         # "ConfigMap shop/nginx key nginx.conf"

    def in_place(self) -> str | None:
        """The manifest's text with every character outside this value blanked (newlines kept),
        so the value sits at its own lines and columns; None unless the value is a literal block
        whose lines are exactly the value's (anything else cannot be placed line for line)."""
        scalar = self.node.node
        if getattr(scalar, "style", None) != "|":
            return None
        whole = read_text_file(self.node.file, MAX_FILE_BYTES)
        start = whole.find("\n", scalar.start_mark.index)
        end = scalar.end_mark.index
        if start < 0 or end <= start:
            return None
        region = whole[start + 1:end]
        lines = region.split("\n")
        written = [line for line in lines if line.strip()]
        indent = min((len(line) - len(line.lstrip(" ")) for line in written), default=0)
        if any(line[:indent].strip() for line in lines) or \
                "\n".join(line[indent:] for line in lines).rstrip() != self.text.rstrip():
            return None
        return _NOT_NEWLINE.sub(" ", whole[:start + 1]) + region + _NOT_NEWLINE.sub(" ", whole[end:])

    def padded(self) -> str:
        """The value with its first line at the line after its key, for a reader that needs the
        value alone at column 1 (Python): lines are the manifest's when the value is a block."""
        return "\n" * self.node.line + self.text


def mounted_files(workload: Workload, container: Container,
                  config_maps: dict[tuple[str, str], Document]) -> tuple[dict[str, MountedFile], set[str], list[str]]:
    """(the container's files from ConfigMaps in the input by path, the directories mounted
    whole from them, notes on mounts whose ConfigMap is not in the input)."""
    namespace = workload.doc.namespace
    volumes = {node.text("name"): node for node in (workload.pod_spec.get("volumes").list()
                                                     if workload.pod_spec and workload.pod_spec.get("volumes") else [])}
    files: dict[str, MountedFile] = {}
    whole_dirs: set[str] = set()
    notes: list[str] = []
    for mount in (container.node.get("volumeMounts").list() if container.node.get("volumeMounts") else []):
        volume = volumes.get(mount.text("name"))
        mount_path = mount.text("mountPath")
        if volume is None or not mount_path:
            continue
        sources = [volume.get("configMap")] if volume.get("configMap") is not None else \
            [s.get("configMap") for s in (volume.get("projected", "sources").list()
                                          if volume.get("projected", "sources") else []) if s.get("configMap")]
        contents: dict[str, MountedFile] = {}
        for source in sources:
            name = source.text("name")
            config_map = config_maps.get((namespace, name or ""))
            if config_map is None:
                notes.append(f"{mount.file}:{mount.line}: container {container.name} mounts ConfigMap "
                             f"{namespace}/{name}, which is not in the input: its files are not read")
                continue
            contents.update(_volume_files(config_map, source))
        if not contents:
            continue
        sub_path = mount.text("subPath")
        if sub_path is None:
            whole_dirs.add(posixpath.normpath(mount_path))
            for relative, file in contents.items():
                file.path = posixpath.normpath(posixpath.join(mount_path, relative))
                files[file.path] = file
        elif sub_path in contents:
            file = contents[sub_path]
            file.path = posixpath.normpath(mount_path)
            files[file.path] = file
        else:
            for relative, file in contents.items():
                if relative.startswith(sub_path.rstrip("/") + "/"):
                    file.path = posixpath.normpath(posixpath.join(mount_path, relative[len(sub_path.rstrip("/")) + 1:]))
                    files[file.path] = file
    return files, whole_dirs, notes


def _volume_files(config_map: Document, source: Node) -> dict[str, MountedFile]:
    """A configMap volume source's files by their path in the volume: every key of ``data``,
    or only the ``items`` listed, at their ``path``."""
    data = config_map.root.get("data")
    values = dict(data.items()) if data is not None else {}
    label = f"ConfigMap {config_map.namespace}/{config_map.name}"
    items = source.get("items")
    chosen = [(item.text("key"), item.text("path")) for item in items.list()] if items is not None else \
        [(key, key) for key in values]
    return {path: MountedFile(path, str(values[key].value or ""), values[key], f"{label} key {key}")
            for key, path in chosen if key in values and path and values[key].value is not None}
