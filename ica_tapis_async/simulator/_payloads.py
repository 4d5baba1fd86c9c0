"""Realistic nested ICA objects (User, Project, Job, Data, ProjectData, pipelines, analyses).

Every required field of the spec schema is present and values look like the real ones (uuids,
URNs, ISO timestamps). Objects that never change (tenant, region, users, projects, pipelines) are
built once and cached; per-item objects are built on demand for the page being served.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ._auth import Identity
from ._batch_state import Batch
from ._clock import ica_time
from ._data_state import DataKind, DataStore, unit_hash

__all__ = ("Payloads",)

_NS = uuid.UUID("0b6f6c4e-2f7e-5c55-8d3e-9a3c4d5e6f70")
_DAY = 86400.0


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(_NS, ":".join(str(p) for p in parts)))


def _uuid_of(pipeline_id: str) -> str:
    """``pipeline_id`` if it is a UUID, else a stable UUID standing for it.

    Pipeline.id is a uuid in the spec; an id the lenient default accepted must not break that.
    """
    try:
        return str(uuid.UUID(pipeline_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "ica-sim-pipeline:" + pipeline_id))


def _audit(owner_id: str, tenant_id: str, tenant_name: str, created: float) -> dict[str, Any]:
    """The id-less audit fields most ICA objects share."""
    stamp = ica_time(created)
    return {
        "timeCreated": stamp,
        "timeModified": stamp,
        "ownerId": owner_id,
        "tenantId": tenant_id,
        "tenantName": tenant_name,
    }


class Payloads:
    """Builds the JSON objects of responses.

    Args:
        seed: makes ids and timestamps deterministic.
        epoch: simulated time the simulator started; static objects are dated before it.
        store: the data store (tags and dates of data objects).
    """

    def __init__(self, seed: int, epoch: float, store: DataStore) -> None:
        self.seed = seed
        self.epoch = epoch
        self.store = store
        self.tenant_id = _uid(seed, "tenant")
        self.tenant_name = "simulated-tenant"
        self.admin_id = _uid(seed, "admin")
        self._cache: dict[str, dict[str, Any]] = {}

    def _cached(self, key: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = build()
        return found

    def _past(self, label: str, days: float = 365.0) -> float:
        """A deterministic moment up to ``days`` before the simulator started."""
        return self.epoch - _DAY - unit_hash(self.seed, label) * days * _DAY

    def _audit(self, label: str, owner_id: str | None = None) -> dict[str, Any]:
        return _audit(
            owner_id or self.admin_id, self.tenant_id, self.tenant_name, self._past(label)
        )

    # --- static objects ------------------------------------------------------------------------
    def country(self) -> dict[str, Any]:
        """Country (of the region)."""
        return self._cached(
            "country",
            lambda: {
                "id": _uid(self.seed, "country"),
                **self._audit("country"),
                "code": "US",
                "name": "United States",
                "region": "Americas",
            },
        )

    def region(self) -> dict[str, Any]:
        """Region of the projects and data."""
        return self._cached(
            "region",
            lambda: {
                "id": _uid(self.seed, "region"),
                **self._audit("region"),
                "code": "US",
                "country": self.country(),
                "cityName": "Portland",
            },
        )

    def application(self) -> dict[str, Any]:
        """Application (the ICA main application)."""
        return self._cached(
            "application",
            lambda: {
                "id": _uid(self.seed, "application"),
                "name": "ICA",
                "type": "MAIN",
                "displayName": "Illumina Connected Analytics",
            },
        )

    def application_v4(self) -> dict[str, Any]:
        """ApplicationV4."""
        return {"id": self.application()["id"], "name": "ICA"}

    def user(self, identity: Identity) -> dict[str, Any]:
        """The User behind ``identity`` (job owners)."""

        def build() -> dict[str, Any]:
            first, _, last = identity.username.partition("-")
            return {
                "id": identity.user_id,
                **self._audit("user:" + identity.user_id),
                "username": identity.username,
                "email": identity.email,
                "firstname": first.capitalize(),
                "lastname": last or "Simulated",
                "active": True,
                "tenantAdministrator": False,
                "jobTitle": "Bioinformatician",
                "greeting": None,
                "mobilePhoneNumber": None,
                "phoneNumber": None,
                "faxNumber": None,
                "emailVerified": True,
                "twoFactorAuthentication": False,
                "country": self.country(),
                "addressLine1": None,
                "addressLine2": None,
                "addressLine3": None,
                "postalCode": None,
                "city": None,
                "state": None,
            }

        return self._cached("user:" + identity.user_id, build)

    def project(self, project_id: str) -> dict[str, Any]:
        """The Project with id ``project_id``."""

        def build() -> dict[str, Any]:
            short = project_id[:8]
            return {
                "id": project_id,
                **self._audit("project:" + project_id),
                "urn": f"urn:ilmn:ica:project:{project_id}#sim-project-{short}",
                "name": f"sim-project-{short}",
                "active": True,
                "baseEnabled": False,
                "shortDescription": "A project of the ICA simulator",
                "information": None,
                "region": self.region(),
                "billingMode": "PROJECT",
                "dataSharingEnabled": True,
                "tags": {"technicalTags": [], "userTags": []},
                "analysisPriority": "MEDIUM",
                "application": self.application(),
                "projectOwner": self.admin_id,
            }

        return self._cached("project:" + project_id, build)

    # --- data ------------------------------------------------------------------------------------
    def data(self, data_id: str) -> dict[str, Any]:
        """The Data object ``data_id`` with its current tags and dates."""
        kind = self.store.kind(data_id)
        folder = kind is DataKind.FOLDER
        suffix = data_id.split(".", 1)[-1]
        name = f"folder_{suffix[:12]}" if folder else f"sample_{suffix[:12]}.fastq.gz"
        created = self._past("data:" + data_id)
        owning_project = _uid(self.seed, "owning-project", int(unit_hash(self.seed, data_id) * 8))
        record = self.store.record(data_id)
        details: dict[str, Any] = {
            "timeCreated": ica_time(created),
            "timeModified": ica_time(created),
            "creatorId": self.admin_id,
            "tenantId": self.tenant_id,
            "tenantName": self.tenant_name,
            "owningProjectId": owning_project,
            "owningProjectName": f"sim-source-{owning_project[:8]}",
            "name": name,
            "path": f"/runs/{name}{'/' if folder else ''}",
            "fileSizeInBytes": None
            if folder
            else int(unit_hash(self.seed, "size:" + data_id) * 5e9) + 1,
            "status": "AVAILABLE",
            "tags": {
                "technicalTags": list(record.technical_tags) if record else [],
                "userTags": list(record.user_tags) if record else [],
                "connectorTags": [],
                "runInTags": [],
                "runOutTags": [],
                "referenceTags": [],
            },
            "dataType": "FOLDER" if folder else "FILE",
            "objectETag": None if folder else f"{_uid(data_id).replace('-', '')}-1",
            "storedForTheFirstTimeAt": ica_time(created),
            "region": self.region(),
            "willBeArchivedAt": record.will_be_archived_at if record else None,
            "willBeDeletedAt": record.will_be_deleted_at if record else None,
        }
        if not folder:
            details["format"] = self._cached(
                "format",
                lambda: {
                    "id": _uid(self.seed, "format:FASTQ"),
                    **self._audit("format"),
                    "code": "FASTQ",
                    "description": "FASTQ sequence file",
                    "mimeType": "text/plain",
                },
            )
        out: dict[str, Any] = {
            "id": data_id,
            "urn": f"urn:ilmn:ica:region:{self.region()['id']}:data:{data_id}#{details['path']}",
            "details": details,
        }
        if folder:
            out["folderDetails"] = {"nonIndexed": False}
        return out

    def project_data(self, project_id: str, data_id: str) -> dict[str, Any]:
        """ProjectData: ``data_id`` as linked in ``project_id``."""
        return {"data": self.data(data_id), "projectId": project_id}

    # --- pipelines and analyses ----------------------------------------------------------------
    def storage_v3(self) -> dict[str, Any]:
        """AnalysisStorageV3 (the default "Small" storage)."""
        return self._cached(
            "storage",
            lambda: {
                "id": _uid(self.seed, "storage"),
                **self._audit("storage"),
                "name": "Small",
                "description": "1.2 TB",
            },
        )

    def storage_v4(self) -> dict[str, Any]:
        """AnalysisStorageV4."""
        s = self.storage_v3()
        return {"id": s["id"], "name": s["name"], "description": s["description"]}

    def _language_version(self, language: str) -> dict[str, Any]:
        name = "v1.2" if language == "CWL" else "22.04.3"
        return {"id": _uid(self.seed, "lang", language), "name": name, "language": language}

    def pipeline_v4(self, pipeline_id: str, language: str) -> dict[str, Any]:
        """PipelineV4 for ``pipeline_id``."""

        def build() -> dict[str, Any]:
            audit = self._audit("pipeline:" + pipeline_id)
            pid = _uuid_of(pipeline_id)
            code = f"sim-pipeline-{pipeline_id[:8]}"
            return {
                "id": pid,
                "urn": f"urn:ilmn:ica:pipeline:{pid}#{code}",
                "timeCreated": audit["timeCreated"],
                "timeModified": audit["timeModified"],
                "owner": {"id": self.admin_id},
                "tenant": {"id": self.tenant_id, "name": self.tenant_name},
                "code": code,
                "description": f"Simulated {language} pipeline",
                "status": "RELEASED",
                "statusAsString": "Released",
                "language": language,
                "languageVersion": self._language_version(language),
                "pipelineTags": {"technicalTags": []},
                "analysisStorage": self.storage_v4(),
                "proprietary": False,
                "inputFormType": "JSON" if language == "NEXTFLOW" else "XML",
            }

        return self._cached(f"pipeline4:{pipeline_id}:{language}", build)

    def pipeline_v3(self, pipeline_id: str, language: str) -> dict[str, Any]:
        """PipelineV3 for ``pipeline_id``."""

        def build() -> dict[str, Any]:
            v4 = self.pipeline_v4(pipeline_id, language)
            return {
                "id": v4["id"],
                **self._audit("pipeline:" + pipeline_id),
                "code": v4["code"],
                "urn": v4["urn"],
                "description": v4["description"],
                "status": "RELEASED",
                "language": language,
                "languageVersion": v4["languageVersion"],
                "pipelineTags": {"technicalTags": []},
                "analysisStorage": self.storage_v3(),
                "proprietary": False,
                "inputFormType": v4["inputFormType"],
            }

        return self._cached(f"pipeline3:{pipeline_id}:{language}", build)

    def analysis(
        self,
        *,
        v4: bool,
        analysis_id: str,
        owner: Identity,
        request: Any,
        created: float,
        now: float,
        run_s: float,
    ) -> dict[str, Any]:
        """AnalysisV4 (or AnalysisV3) created at ``created`` for one batch item ``request``.

        It stays REQUESTED for ``run_s``, runs for ``run_s``, then SUCCEEDED.
        """
        started, ended = created + run_s, created + 2 * run_s
        if now >= ended:
            status = "SUCCEEDED"
        elif now >= started:
            status = "IN_PROGRESS" if v4 else "INPROGRESS"
        else:
            status = "REQUESTED"
        language = request.language
        code = self.pipeline_v4(request.pipeline_id, language)["code"]
        out: dict[str, Any] = {
            "id": analysis_id,
            "timeCreated": ica_time(created),
            "timeModified": ica_time(min(now, ended) if now >= started else created),
            "reference": f"{request.user_reference}-{code}-{analysis_id[:8]}"[:255],
            "userReference": request.user_reference,
            "status": status,
            "startDate": ica_time(started) if now >= started else None,
            "endDate": ica_time(ended) if now >= ended else None,
            "summary": None,
            "analysisPriority": "MEDIUM",
            "tags": {
                "technicalTags": list(request.technical_tags),
                "userTags": list(request.user_tags),
                "referenceTags": list(request.reference_tags),
            },
            "application": self.application_v4(),
        }
        if v4:
            out["owner"] = {"id": owner.user_id}
            out["tenant"] = {"id": self.tenant_id, "name": self.tenant_name}
            out["pipeline"] = self.pipeline_v4(request.pipeline_id, language)
            out["analysisStorage"] = self.storage_v4()
        else:
            out["ownerId"] = owner.user_id
            out["tenantId"] = self.tenant_id
            out["tenantName"] = self.tenant_name
            out["pipeline"] = self.pipeline_v3(request.pipeline_id, language)
            out["analysisStorage"] = self.storage_v3()
        return out

    # --- jobs ------------------------------------------------------------------------------------
    def job(self, batch: Batch, now: float) -> dict[str, Any]:
        """The Job of ``batch`` at ``now``; its status follows the items (Job spelling)."""
        status, info, started, finished = batch.job_status(now)
        return {
            "id": _uid(batch.id, "job"),
            "status": status,
            "additionalStatusInformation": info,
            "subjectType": batch.subject_type,
            "subjectId": batch.id,
            "timeCreated": ica_time(batch.created),
            "timeStarted": ica_time(started) if started is not None else None,
            "timeFinished": ica_time(finished) if finished is not None else None,
            "owner": self.user(batch.owner),
            "project": self.project(batch.project_id),
            "application": self.application(),
        }
