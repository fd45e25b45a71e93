"""The YAML documents of Kubernetes manifests, each with its file and the line of every node.

Files and directories (``*.yaml``/``*.yml`` in them, sorted) are read with PyYAML's composer,
which keeps each node's start mark, so a finding points at the line of a container's command
rather than at the file. Multi-document files (``---``) and ``kind: List`` are split into their
objects. An unrendered Helm template (a file holding ``{{`` that is not YAML yet, or any file
holding ``{{`` inside a chart) is skipped with a note naming ``helm template``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import yaml

from confgen.errors import ConfgenError
from confgen.files import read_text_file

MAX_FILE_BYTES = 8 * 1024 * 1024
_SUFFIXES = (".yaml", ".yml")


class Node:
    """A YAML node of a manifest: its value, and the file and line it was written at."""

    def __init__(self, node: yaml.Node, file: str):
        self.node = node
        self.file = file

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    @property
    def where(self) -> tuple[str, int]:
        return self.file, self.line

    def get(self, *keys: str) -> Node | None:
        """The node at ``keys`` below this mapping (None when any level is missing)."""
        here: Node | None = self
        for key in keys:
            if here is None or not isinstance(here.node, yaml.MappingNode):
                return None
            here = next((Node(value, self.file) for name, value in here.node.value
                         if isinstance(name, yaml.ScalarNode) and name.value == key), None)
        return here

    def items(self) -> list[tuple[str, Node]]:
        if not isinstance(self.node, yaml.MappingNode):
            return []
        return [(name.value, Node(value, self.file)) for name, value in self.node.value
                if isinstance(name, yaml.ScalarNode)]

    def list(self) -> list[Node]:
        return [Node(item, self.file) for item in self.node.value] if isinstance(self.node, yaml.SequenceNode) else []

    @property
    def value(self):
        """The scalar as YAML types it (``80`` an int, ``"80"`` a str, ``true`` a bool); None
        for a mapping, a sequence or ``null``."""
        if not isinstance(self.node, yaml.ScalarNode):
            return None
        return yaml.SafeLoader("").construct_object(self.node)

    def text(self, *keys: str) -> str | None:
        """The scalar at ``keys`` as a string (None when absent or not a scalar)."""
        found = self.get(*keys)
        value = found.value if found is not None else None
        return None if value is None or isinstance(value, bool) else str(value)

    def strings(self, *keys: str) -> dict[str, str]:
        """A mapping of scalars at ``keys`` (labels, annotations, a ConfigMap's data) as strings."""
        found = self.get(*keys)
        return {name: str(node.value) for name, node in (found.items() if found else [])
                if node.value is not None}


@dataclass
class Document:
    """One Kubernetes object of the input."""

    file: str
    root: Node

    @property
    def kind(self) -> str:
        return self.root.text("kind") or ""

    @property
    def name(self) -> str:
        return self.root.text("metadata", "name") or ""

    @property
    def namespace(self) -> str:
        # kubectl applies an object without a namespace to the current one, "default" unless
        # the context says otherwise: the manifests alone cannot tell, so "default" it is.
        return self.root.text("metadata", "namespace") or "default"

    @property
    def line(self) -> int:
        return self.root.line

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def manifest_files(paths: list[str]) -> list[str]:
    """The files of ``paths``: each file as given, each directory's YAML files (recursively,
    sorted). ConfgenError for a path that does not exist."""
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for directory, subdirectories, names in os.walk(path):
                subdirectories.sort()
                files.extend(os.path.join(directory, name) for name in sorted(names) if name.endswith(_SUFFIXES))
        elif os.path.exists(path):
            files.append(path)
        else:
            raise ConfgenError(f"{path}: no such file or directory")
    return list(dict.fromkeys(files))


def read_documents(paths: list[str], notes: list[str] | None = None) -> list[Document]:
    """Every Kubernetes object in ``paths``, in file order. Unrendered Helm templates are
    skipped with a note appended to ``notes``; YAML that does not parse is a ConfgenError naming
    the file and line."""
    documents: list[Document] = []
    for file in manifest_files(paths):
        text = read_text_file(file, MAX_FILE_BYTES)
        try:
            roots = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
            template = "{{" in text and _in_chart(file)
        except yaml.YAMLError as error:
            template = "{{" in text
            if not template:
                raise ConfgenError(_yaml_problem(file, error)) from None
        if template:
            _note(notes, f"{file}: a Helm template (it holds {{{{ ... }}}}), not a manifest: skipped; render it "
                         f"first (helm template RELEASE CHART -f values.yaml > rendered.yaml) and pass the output")
            continue
        for root in roots:
            if root is None:
                continue
            node = Node(root, file)
            if node.text("kind") == "List":
                documents.extend(Document(file, item) for item in (node.get("items") or node).list()
                                 if item.text("kind"))
            elif node.text("kind") and node.text("apiVersion"):
                documents.append(Document(file, node))
    return documents


def _in_chart(file: str) -> bool:
    """Whether ``file`` lies in a Helm chart (a directory above it holds Chart.yaml). A rendered
    manifest may hold ``{{`` in a string (an alerting rule's template); a chart's file is a
    template even where it happens to parse as YAML."""
    directory = os.path.dirname(os.path.abspath(file))
    while True:
        if os.path.isfile(os.path.join(directory, "Chart.yaml")):
            return True
        parent = os.path.dirname(directory)
        if parent == directory:
            return False
        directory = parent


def _yaml_problem(file: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f"{file}:{mark.line + 1}" if mark is not None else file
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{where}: not valid YAML: {problem}"


def _note(notes: list[str] | None, text: str) -> None:
    if notes is not None and text not in notes:
        notes.append(text)
