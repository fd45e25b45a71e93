"""nginx running in a pod beside the app (a sidecar), configured from a ConfigMap.

The container is nginx when its image is (``nginx``, ``nginxinc/nginx-unprivileged``,
``bitnami/nginx``, ...) or its command starts ``nginx``. Its main file is the ``-c`` it is
started with, else the one its image reads; the files a ConfigMap mounts are its config, read by
the same parser as every nginx file, with findings at the manifest's lines. Files the image
provides (``mime.types``, the image's own ``conf.d/default.conf``) are not in the manifests: an
include of them keeps the rules about missing values silent where it stands, as an include of a
file the deployment provides does. When only ``conf.d`` files are mounted (the image keeps its
nginx.conf), each is read as the http-level snippet nginx.conf includes.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from confgen.errors import ConfgenError
from confgen.manifests.documents import Document
from confgen.manifests.mounts import MountedFile, mounted_files
from confgen.manifests.resources import Container, Workload

# Where images read their main file when nginx is started without -c. The official image (and
# nginxinc/nginx-unprivileged, built from it) keeps Debian's layout; Bitnami's and OpenResty's
# images have their own prefix.
DEFAULT_MAIN = "/etc/nginx/nginx.conf"
IMAGE_MAIN = {"bitnami/nginx": "/opt/bitnami/nginx/conf/nginx.conf",
              "openresty/openresty": "/usr/local/openresty/nginx/conf/nginx.conf"}
NGINX_PROGRAMS = ("nginx", "openresty")
_NGINX_IMAGE = re.compile(r"(?:nginx|nginx-unprivileged|openresty)", re.I)


@dataclass
class SidecarNginx:
    configs: list = field(default_factory=list)     # confgen.nginx.model.NginxConfig, one per tree
    notes: list[str] = field(default_factory=list)


def is_nginx(container: Container) -> bool:
    argv, _ = container.argv()
    if argv and posixpath.basename(argv[0]) in NGINX_PROGRAMS:
        return True
    return bool(_NGINX_IMAGE.fullmatch(_image_name(container).rsplit("/", 1)[-1]))


def sidecar_nginx(workload: Workload, container: Container, config_maps: dict[tuple[str, str], Document],
                  nginx_version: str | None = None) -> SidecarNginx:
    """The nginx trees an nginx container of ``workload`` runs, from the ConfigMaps it mounts."""
    from confgen.nginx.parse import load_nginx_files

    sidecar = SidecarNginx()
    files, whole_dirs, sidecar.notes = mounted_files(workload, container, config_maps)
    where = f"{container.node.file}:{container.node.line}"
    main = _main_file(container)
    conf_dir = posixpath.dirname(main)
    nginx_files = {path: file for path, file in files.items() if _is_nginx_file(path, file, main)}
    if not nginx_files:
        sidecar.notes.append(f"{where}: container {container.name} runs nginx with the config of its image "
                             f"({main} is not mounted from a ConfigMap in the input): its nginx is not read")
        return sidecar
    texts, shown_as, unplaced = {}, {}, set()
    for path, file in nginx_files.items():
        placed = file.in_place()
        texts[path] = placed if placed is not None else file.padded()
        shown_as[path] = file.node.file
        if placed is None:
            unplaced.add(path)
            sidecar.notes.append(f"{file.node.file}:{file.node.line}: {file.source} is not a literal block (|): "
                                 f"its nginx config is read, but columns and --fix are not available for it")
    roots = [main] if main in nginx_files else list(nginx_files)
    for root in roots:
        try:
            config = load_nginx_files(texts, root, nginx_version=nginx_version, conf_dir=conf_dir,
                                      complete_dirs=whole_dirs, shown_as=shown_as, unplaced=unplaced)
        except ConfgenError as error:
            sidecar.notes.append(f"{nginx_files[root].node.file}: {nginx_files[root].source}: not read: {error}")
            continue
        if root != main:
            config.notes.append(f"{nginx_files[root].node.file}:{nginx_files[root].node.line}: {nginx_files[root].source} "
                                f"is mounted at {root}; the image's own {main} is not in the manifests: read as "
                                f"the snippet it includes")
        config.cpu_limit = container.cpu_limit()
        sidecar.configs.append(config)
    return sidecar


def _image_name(container: Container) -> str:
    image = container.node.text("image") or ""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name.lower()


def _main_file(container: Container) -> str:
    argv, _ = container.argv()
    if argv and posixpath.basename(argv[0]) in NGINX_PROGRAMS and "-c" in argv[:-1]:
        return posixpath.normpath(argv[argv.index("-c") + 1])
    name = _image_name(container)
    for image, main in IMAGE_MAIN.items():
        if name == image or name.endswith("/" + image):
            return main
    return DEFAULT_MAIN


def _is_nginx_file(path: str, file: MountedFile, main: str) -> bool:
    """The main file, or a ``.conf`` file that holds nginx blocks or directives (not a static
    page or a certificate mounted from the same ConfigMap)."""
    if path == main:
        return True
    return path.endswith(".conf") and re.search(r"^\s*(server|upstream|location|http)\b[^;{]*\{", file.text, re.M) is not None
