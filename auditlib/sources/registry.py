"""The registry collector: tags of repositories in OCI registries (distribution API v2), the image
each tag points at, and that image's config.

`collect_registry(["127.0.0.1:5000/team/app", "ghcr.io/org/x:1.2", "nginx"])` gives one
`Collection` (format `oci-registry`) per repository. Each tag becomes a `registry_tags` row; the
tags of a repository that point at the same image config become ONE image record (one `images`
row, its `image_tags`, labels, layers, history and environment variable names). A multi-platform
index is resolved to one platform (`linux/amd64` unless told otherwise). Credentials come from the
Docker CLI's `config.json` (and its credential helpers) and never reach a table, an error, a log
line or a repr: they go only to the registry's own origin (and its token realm), and every text
that comes from the registry passes through `auditlib.normalize.redact.redact`, with the user's own
credentials (plain and base64) masked too. A tag that fails is an error naming it, and the other
tags go on; a repository that cannot be read at all gives a collection holding only its error.

Every read is bounded (`RegistryLimits`): bytes per answer and per repository, seconds per request
and per repository, pages and tags per listing. A limit reached is an error naming the registry,
the repository and the setting; when a repository's time or bytes are spent, one error says how
many of its tags were not read.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from auditlib.errors import AuditlibError
from auditlib.identity import parse_reference
from auditlib.rows import Row
from auditlib.sources._registry_artifacts import Found, Known, find_artifacts, is_artifact_tag
from auditlib.sources._registry_client import RegistryClient, TagListing
from auditlib.sources._registry_http import (
    Budget,
    RegistryError,
    RetryPolicy,
    SourceLimitError,
    is_loopback,
    scrub,
    shorten,
)
from auditlib.sources._registry_limits import RegistryLimits
from auditlib.sources._registry_manifest import SHORT_NAMES, Manifest, ResolvedImage
from auditlib.sources._registry_platform import Platform
from auditlib.sources.cosign_keys import CosignKey
from auditlib.sources.docker_credentials import Credentials, CredentialsError
from auditlib.sources.image_config import image_record
from auditlib.sources.record import Collection, Record
from auditlib.sources.registry_clients import TAG_WORKERS, RegistryClients

__all__ = [
    "FORMAT",
    "Credentials",
    "CredentialsError",
    "Manifest",
    "RegistryClient",
    "RegistryClients",
    "RegistryError",
    "RegistryLimits",
    "ResolvedImage",
    "RetryPolicy",
    "collect_registry",
    "repository_records",
]

FORMAT = "oci-registry"
"""The format id of registry collections and records."""

log = logging.getLogger("auditlib.sources.registry")

Progress = Callable[[str], None]
TagFilter = str | Callable[[str], bool]


@dataclass(slots=True)
class _Repo:
    """One repository to read, and what of it."""

    registry: str
    repository: str
    given: list[str] = field(default_factory=list)
    """The input strings naming it."""
    refs: list[str] = field(default_factory=list)
    """The tags and digests asked for; all tags when `whole`."""
    whole: bool = False
    source: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"


def _explicit_tag(text: str) -> bool:
    """Return whether reference text names a tag (`app:1`), not just a repository (`app`)."""
    last = text.split("@", 1)[0].rsplit("/", 1)[-1]
    return ":" in last


def _plan(repos: Iterable[str]) -> tuple[list[_Repo], list[Collection]]:
    """Group the input strings by repository; return the repositories and the collections of
    strings that are not references.
    """
    by_name: dict[str, _Repo] = {}
    bad: list[Collection] = []
    for text in repos:
        ref = parse_reference(text.strip())
        if ref is None:
            why = f"{text}: not a valid repository reference"
            bad.append(Collection(text, FORMAT, errors=[why]))
            continue
        repo = by_name.setdefault(ref.name, _Repo(ref.registry, ref.repository))
        repo.given.append(text)
        if ref.digest:
            repo.refs.append(ref.digest)
        elif ref.tag and _explicit_tag(text.strip()):
            repo.refs.append(ref.tag)
        else:
            repo.whole = True
    return list(by_name.values()), bad


def _natural(tag: str) -> list[tuple[int, int | str]]:
    """Sort key: numbers inside tags compare as numbers (`1.9` before `1.10`)."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", tag) if p]


def _select(
    tags: list[str], tag_filter: TagFilter | None, max_tags: int | None, name: str
) -> list[str]:
    """Return the tags to read: those passing the filter, the last `max_tags` in natural order."""
    if isinstance(tag_filter, str):
        pattern = tag_filter
        chosen = [t for t in tags if fnmatch.fnmatchcase(t, pattern)]
    elif tag_filter is not None:
        chosen = [t for t in tags if tag_filter(t)]
    else:
        chosen = list(tags)
    chosen.sort(key=_natural)
    if max_tags is not None and len(chosen) > max_tags:
        log.warning("%s: %d tags; reading the last %d only", name, len(chosen), max_tags)
        chosen = chosen[len(chosen) - max_tags:] if max_tags > 0 else []
    return chosen


def _safe(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with any of the user's secrets in it masked (a last line of defence: text
    from the registry is redacted where it is read, and messages are made without secrets).
    """
    return scrub(text, secrets)


def _tag_row(registry: str, repository: str, tag: str, img: ResolvedImage,
             artifacts: Mapping[str, Found] | None) -> Row:
    created = img.config.get("created")
    checked = None
    if artifacts is not None:
        looked = [artifacts.get(d) for d in {img.top.digest, img.manifest.digest}]
        checked = all(f is not None and f.error is None for f in looked)
    return {
        "registry": registry,
        "repository": repository,
        "tag": tag,
        "manifest_digest": img.top.digest,
        "media_type": img.top.media_type,
        "is_index": img.top.is_index,
        "platform": img.platform,
        "platform_manifest_digest": img.manifest.digest,
        "image_id": img.config_digest,
        "created_at": created if isinstance(created, str) else None,
        "artifacts_checked": checked,
    }


def repository_records(registry: str, repository: str, source: str,
                       found: Sequence[tuple[str, ResolvedImage]],
                       artifacts: Mapping[str, Found] | None = None) -> list[Record]:
    """Return the records of one repository's tags: one per image config, with every tag (and
    digest) naming it, its `registry_tags` rows beside its image rows, and the
    `image_signatures` and `image_attestations` rows of its manifests.

    Args:
        registry: the registry host (`ghcr.io`, `127.0.0.1:5000`).
        repository: the repository in it (`org/app`).
        source: the repository's endpoint (`https://ghcr.io/org/app`).
        found: (tag or digest asked for, what it resolved to), in any order.
        artifacts: what `find_artifacts` found, by manifest digest; None when they were not
            looked for (`registry_tags.artifacts_checked` then stays unknown).
    """
    name = f"{registry}/{repository}"
    groups: dict[str, list[tuple[str, ResolvedImage]]] = {}
    for ref, img in found:
        groups.setdefault(img.config_digest, []).append((ref, img))
    records: list[Record] = []
    for image_id, members in groups.items():
        members.sort(key=lambda m: _natural(m[0]))
        tags = [r for r, _ in members if not _is_digest_ref(r)]
        first = members[0][1]
        digests = sorted({f"{name}@{img.top.digest}" for _, img in members})
        refs = [f"{name}:{t}" for t in tags]
        rows = [_tag_row(registry, repository, t, img, artifacts)
                for t, img in members if t in tags]
        subjects = sorted({d for _, img in members for d in (img.top.digest, img.manifest.digest)})
        looked = [artifacts[d] for d in subjects if artifacts and d in artifacts]
        extra = {
            "registry_tags": rows,
            "image_signatures": [{**r, "image_id": image_id} for f in looked
                                 for r in f.signatures],
            "image_attestations": [{**r, "image_id": image_id} for f in looked
                                   for r in f.attestations],
        }
        records.append(
            image_record(
                first.config,
                image_id=image_id,
                fmt=FORMAT,
                version=SHORT_NAMES.get(first.top.media_type, "unknown"),
                source=source,
                host=registry,
                reference=refs[0] if refs else digests[0],
                tags=refs,
                repo_digests=digests,
                size_bytes=first.size_bytes,
                extra_rows={k: v for k, v in extra.items() if v},
            )
        )
    return records


def _is_digest_ref(ref: str) -> bool:
    return ref.startswith(("sha256:", "sha384:", "sha512:"))


def collect_registry(
    repos: Sequence[str],
    *,
    platform: str = "linux/amd64",
    insecure: bool = False,
    docker_config: str | os.PathLike[str] | None = None,
    credentials: Mapping[str, Credentials | None] | None = None,
    tag_filter: TagFilter | None = None,
    max_tags: int | None = None,
    workers: int = TAG_WORKERS,
    session: requests.Session | None = None,
    limits: RegistryLimits | None = None,
    retry: RetryPolicy | None = None,
    verify: bool | str = True,
    progress: Progress | None = None,
    cosign_keys: Sequence[CosignKey] = (),
    artifacts: bool = True,
    clients: RegistryClients | None = None,
) -> list[Collection]:
    """Collect the tags of registry repositories, and the images they point at.

    Args:
        repos: repositories (`127.0.0.1:5000/team/app`, `ghcr.io/org/x`, `nginx` for
            `docker.io/library/nginx`), or one tag (`repo:tag`) or manifest (`repo@sha256:...`)
            of one. Strings naming the same repository are read together.
        platform: the platform chosen from multi-platform indexes (`linux/arm64/v8`).
        insecure: allow plain HTTP to registries that are not on a loopback address (after
            HTTPS failed). Loopback registries may always use it, as with Docker.
        docker_config: the Docker `config.json` to read credentials from; default
            `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
        credentials: credentials by registry name (`ghcr.io`), used instead of the Docker config
            for those registries (None for anonymous).
        tag_filter: a glob (`1.*`) or a predicate; only the tags it accepts are read. It does not
            apply to tags named in `repos`.
        max_tags: read at most this many tags per repository: the last in natural order
            (`1.10` after `1.9`). Tags named in `repos` are always read.
        workers: requests in flight at once.
        session: the `requests.Session` to use (proxies, adapters); one per registry when None
            (its connections are cut when a request passes its deadline; through another
            adapter, deadlines are checked between reads only).
        limits: how far to read (`RegistryLimits`: connect and read timeouts, the deadline of
            one request and of one repository, bytes per answer, manifest, config and
            repository, pages and tags per listing, redirects); `RegistryLimits()` when None.
        retry: how transient failures (connection errors, 5xx, 429) are retried; no retry
            starts or waits past the repository's deadline.
        verify: TLS verification: True, False, or the path of a CA bundle.
        progress: called (from worker threads) with `registry/repository:tag` once each tag
            has been read.
        cosign_keys: public keys (`auditlib.sources.cosign_keys.load_keys`) that verify the
            cosign signatures and attestations found; none: they are recorded, unverified.
        artifacts: look for each image's signatures, attestations and attached SBOMs (cosign's
            tags, the OCI referrers API and its fallback tag, BuildKit's attestation
            manifests; `_registry_artifacts`). Tags of cosign's scheme are never read as
            images.
        clients: the clients to read through, shared with other calls (`RegistryClients`:
            one per registry, pinged once, for a run that reads its repositories in separate
            calls); then `insecure`, `docker_config`, `credentials`, `session`, `retry` and
            `verify` are theirs, not these, and `limits` bounds the repositories only. None:
            clients made for this call, closed at its end.

    Returns:
        One collection per repository (and one per string that is not a reference), in the
        order given. A tag that could not be read is an error of its collection naming it; a
        repository that could not be read at all has errors only (a limit reached while listing
        its tags is such an error); the tags left when its time or bytes were spent are one
        error.

    Raises:
        ValueError: `platform` is not `os/arch[/variant]`, or `workers` is below 1.
    """
    want = Platform.parse(platform)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    config_path = Path(docker_config) if docker_config is not None else None
    plan, bad = _plan(repos)
    own = clients is None
    pool = clients if clients is not None else RegistryClients(
        insecure=insecure, docker_config=config_path, credentials=credentials, session=session,
        limits=limits, retry=retry, verify=verify, pool_size=max(10, workers),
    )
    limits = limits or pool.limits
    try:
        return _collect(
            plan, bad, {repo.registry: pool.get(repo.registry) for repo in plan}, want,
            tag_filter, max_tags, workers, progress, repos, limits,
            list(cosign_keys) if artifacts else None,
        )
    finally:
        if own:
            pool.close()


def _skipped(repo: _Repo, listing: TagListing, client: RegistryClient) -> list[str]:
    """Return the listed tags to read: those that hold none of the client's secrets (a registry
    echoing a credential as a tag name); note the names skipped as an error of the repository.
    """
    secrets = [s for s in client.secrets() if len(s) >= 4]
    kept = [t for t in listing.tags if not any(s in t for s in secrets)]
    skipped = listing.skipped + len(listing.tags) - len(kept)
    if skipped:
        repo.errors.append(
            f"{repo.name}: {skipped} listed name(s) skipped: not valid tags, or holding a "
            "credential"
        )
    return kept


def _collect(
    plan: list[_Repo],
    bad: list[Collection],
    clients: Mapping[str, RegistryClient],
    want: Platform,
    tag_filter: TagFilter | None,
    max_tags: int | None,
    workers: int,
    progress: Progress | None,
    given: Sequence[str],
    limits: RegistryLimits,
    keys: list[CosignKey] | None,
) -> list[Collection]:
    # Each repository's clock runs while its listing is read, then from its first tag on: not
    # while it waits for the others to be listed.
    budgets = {id(repo): Budget(limits, running=False) for repo in plan}
    spent: dict[int, str] = {}  # why a repository's budget ran out, as its first request said

    def list_tags(repo: _Repo) -> list[str]:
        client = clients[repo.registry]
        budget = budgets[id(repo)]
        budget.start()
        try:
            client.ping(budget=budget)
            if not repo.whole:
                return list(dict.fromkeys(repo.refs))
            listing = client.list_tags(repo.repository, budget=budget)
            known[repo.name].tags = frozenset(listing.tags)
            listed = [t for t in _skipped(repo, listing, client) if not is_artifact_tag(t)]
            tags = _select(listed, tag_filter, max_tags, repo.name)
            return list(dict.fromkeys([*tags, *repo.refs]))
        except (AuditlibError, requests.RequestException, ValueError) as e:
            repo.errors.append(_message(repo.name, e))
            return []
        finally:
            budget.stop()
            scheme = client.scheme or ("http" if is_loopback(client.host) else "https")
            repo.source = f"{scheme}://{repo.name}"

    looked: dict[tuple[str, str], Found] = {}  # by (repository name, manifest digest)
    known = {repo.name: Known() for repo in plan}
    claimed: set[tuple[str, str]] = set()  # looked up, or being looked up by another thread
    looked_lock = threading.Lock()

    def look_up(repo: _Repo, img: ResolvedImage, budget: Budget) -> None:
        assert keys is not None
        for digest in dict.fromkeys((img.top.digest, img.manifest.digest)):
            with looked_lock:  # tags that share a manifest look it up once, with one error
                if (repo.name, digest) in claimed:
                    continue
                claimed.add((repo.name, digest))
            top = img.top if digest == img.manifest.digest and img.top.is_index else None
            try:
                found = find_artifacts(clients[repo.registry], repo.repository, digest, keys,
                                       budget=budget, top=top, known=known[repo.name])
            except SourceLimitError as e:
                found = Found(error=str(e).partition(": ")[2] or str(e))
            if found.error is not None:
                repo.errors.append(_message(
                    f"{repo.name}@{digest}",
                    AuditlibError(f"signatures and attestations not all read: {found.error}"),
                ))
            with looked_lock:
                looked[(repo.name, digest)] = found

    def read_tag(job: tuple[_Repo, str]) -> tuple[_Repo, str, ResolvedImage | str | None]:
        repo, ref = job
        sep = "@" if _is_digest_ref(ref) else ":"
        budget = budgets[id(repo)]
        budget.start()
        img: ResolvedImage | str | None = None  # None: not read, the repository's budget is spent
        if budget.spent() is None:
            try:
                img = clients[repo.registry].image(repo.repository, ref, want, budget=budget)
                if keys is not None:
                    look_up(repo, img, budget)
            except SourceLimitError as e:
                spent.setdefault(id(repo), str(e).partition(": ")[2])
            except (AuditlibError, requests.RequestException, ValueError) as e:
                img = _message(f"{repo.name}{sep}{ref}", e)
        if progress is not None:
            progress(f"{repo.name}{sep}{ref}")
        return repo, ref, img

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="registry") as pool:
        refs = list(pool.map(list_tags, plan))
        jobs = [(repo, ref) for repo, tags in zip(plan, refs, strict=True) for ref in tags]
        results = list(pool.map(read_tag, jobs))
    found: dict[int, list[tuple[str, ResolvedImage]]] = {id(r): [] for r in plan}
    late: dict[int, int] = {}
    for repo, ref, img in results:
        if img is None:
            late[id(repo)] = late.get(id(repo), 0) + 1
        elif isinstance(img, str):
            repo.errors.append(img)
        else:
            found[id(repo)].append((ref, img))
    for repo, tags in zip(plan, refs, strict=True):
        if late.get(id(repo)):
            why = budgets[id(repo)].spent() or spent.get(id(repo), "its budget was spent")
            count = f"{late[id(repo)]} of {len(tags)} tag(s)"
            repo.errors.append(f"{repo.name}: {count} not read: {why}")
    secrets = [s for c in clients.values() for s in c.secrets()]
    out: dict[str, Collection] = {}
    for repo in plan:
        mine = None if keys is None else {
            d: f for (name, d), f in looked.items() if name == repo.name
        }
        records = repository_records(repo.registry, repo.repository, repo.source,
                                     found[id(repo)], mine)
        col = Collection(repo.source, FORMAT, records=records)
        for reason in repo.errors:
            col.error(_safe(reason, secrets))
        for text in repo.given:
            out.setdefault(text, col)
    for col in bad:
        out.setdefault(col.source, col)
    ordered = [out[text] for text in given if text in out]
    return list({id(c): c for c in ordered}.values())


def _message(subject: str, error: BaseException) -> str:
    """Return an error message that starts with its subject (`registry/repository[:tag]`)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = shorten(text, 400)
    if text.startswith(subject):
        return text
    registry = subject.split("/", 1)[0]
    if text.startswith(registry + ": "):
        return subject + text[len(registry):]
    return f"{subject}: {text}"
