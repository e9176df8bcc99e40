"""Finding a source's files (pip distributions, installed or unpacked Debian packages) and
installing what is missing."""
from __future__ import annotations

import glob
import os
import os.path as osp
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from .sources import DEBIAN_LIST, DROPPED, PIP_LIST, Source, check_sources, read_package_list


def _pip_root(package: str) -> Tuple[Optional[str], str]:
    from importlib import metadata
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return None, ''
    return str(dist.locate_file('')), dist.version


def _deb_version(package: str, root: str) -> str:
    if root == '/':
        out = subprocess.run(['dpkg-query', '-W', '-f=${Version}', package],
                             capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ''
    version_file = osp.join(root, '.version')
    if osp.isfile(version_file):
        with open(version_file) as f:
            return f.read().strip()
    return ''


def _deb_roots(package: str, deb_cache: str) -> List[str]:
    return ['/', osp.join(deb_cache, package)]


def locate(source: Source, deb_cache: str) -> Tuple[Dict[str, str], str, List[str]]:
    """``({relative path: absolute path}, version, missing relative paths)``."""
    if source.kind == 'pip':
        root, version = _pip_root(source.package)
        roots = [root] if root else []
    else:
        roots = [r for r in _deb_roots(source.package, deb_cache) if osp.isdir(r)]
        version = ''
    found: Dict[str, str] = {}
    for rel in source.files:
        if rel in DROPPED:
            continue
        for root in roots:
            path = osp.join(root, rel)
            if osp.isfile(path):
                found[rel] = path
                if source.kind == 'debian' and not version:
                    version = _deb_version(source.package, root)
                break
    missing = [rel for rel in source.files if rel not in found and rel not in DROPPED]
    return found, version, missing


def _run(cmd: List[str], **kwargs) -> bool:
    print('+', ' '.join(cmd))
    return subprocess.run(cmd, **kwargs).returncode == 0


def install_pip(python: str = sys.executable) -> None:
    names = read_package_list(PIP_LIST)
    if names:
        # data only: the tool reads the files, it never imports these packages
        _run([python, '-m', 'pip', 'install', '--no-deps', '-r', PIP_LIST])


def install_debian(sources: Sequence[Source], deb_cache: str) -> None:
    """apt-get install (root) the listed packages, then extract any still-missing ones."""
    wanted = read_package_list(DEBIAN_LIST)
    check_sources(sources)
    missing = [s.package for s in sources if s.kind == 'debian' and s.package in wanted
               and locate(s, deb_cache)[2]]
    if not missing:
        return
    if shutil.which('apt-get') is None:
        print(f'no apt-get: cannot install Debian sources {missing}')
        return
    if hasattr(os, 'geteuid') and os.geteuid() == 0:
        _run(['apt-get', 'update'])
        _run(['apt-get', 'install', '-y', '--no-install-recommends', *missing])
    still = [s.package for s in sources if s.kind == 'debian' and s.package in missing
             and locate(s, deb_cache)[2]]
    if not still or shutil.which('dpkg-deb') is None:
        return
    # files absent after installing (dpkg path-exclude of /usr/share/doc, or not root):
    # unpack the .deb without installing it
    os.makedirs(deb_cache, exist_ok=True)
    for package in still:
        if not _run(['apt-get', 'download', package], cwd=deb_cache):
            continue
        debs = sorted(glob.glob(osp.join(deb_cache, f'{package}_*.deb')))
        if not debs:
            continue
        target = osp.join(deb_cache, package)
        shutil.rmtree(target, ignore_errors=True)
        if _run(['dpkg-deb', '-x', debs[-1], target]):
            version = subprocess.run(['dpkg-deb', '-f', debs[-1], 'Version'],
                                     capture_output=True, text=True).stdout.strip()
            with open(osp.join(target, '.version'), 'w') as f:
                f.write(version + '\n')
        os.remove(debs[-1])
