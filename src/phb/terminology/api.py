"""The terminology API for staff: the code systems held, search one by code or words, look a code up.

Search text is a code or a few words of a diagnosis, not personal data: it travels as a query parameter
(GET, cacheable). Errors are problem details: UNKNOWN_CODE_SYSTEM, NOT_FOUND, VALIDATION_ERROR."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from phb.kernel.api import PhbApiView
from phb.kernel.errors import Forbidden, NotFound
from phb.terminology import policies, selectors


class CodeSystemOutput(serializers.Serializer):
    uri = serializers.CharField()
    slug = serializers.CharField(help_text="Its name in the paths below.")
    name = serializers.CharField()
    version = serializers.CharField()
    content = serializers.CharField(help_text="complete, or fragment: other well-formed codes may be valid.")
    copyright = serializers.CharField()
    concept_count = serializers.IntegerField(help_text="Active concepts held.")
    loaded_at = serializers.DateTimeField(allow_null=True)


class ConceptOutput(serializers.Serializer):
    system = serializers.CharField()
    code = serializers.CharField()
    display = serializers.CharField()
    selectable = serializers.BooleanField(help_text="May be recorded as is (ICD-10-CM: billable).")
    level = serializers.CharField()
    parent_code = serializers.CharField()
    active = serializers.BooleanField()
    heading = serializers.BooleanField(help_text="A chapter or block: names a range of codes, is not one.")
    properties = serializers.DictField(help_text="System-specific (LOINC: category, unit).")


class SearchInput(serializers.Serializer):
    q = serializers.CharField(
        max_length=selectors.MAX_QUERY,
        trim_whitespace=True,
        help_text='A code or its start ("E11", "e11.9", "E119"), or words in any order, each the start of a word '
        '("diab mell typ 2").',
    )
    limit = serializers.IntegerField(min_value=1, max_value=selectors.MAX_LIMIT, default=selectors.DEFAULT_LIMIT)


SYSTEM = OpenApiParameter("system", str, OpenApiParameter.PATH, description="A code system PHB holds: icd10-cm, loinc.")


class TerminologyApi(PhbApiView):
    required_permission = None  # any signed-in user; the policy narrows it to staff at work

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not policies.can_browse(self.ctx):
            raise Forbidden("the terminology is for staff acting for an organization")


class CodeSystemListApi(TerminologyApi):
    @extend_schema(
        operation_id="terminology_systems", responses=CodeSystemOutput(many=True), summary="The code systems PHB holds"
    )
    def get(self, request: Request) -> Response:
        return Response(CodeSystemOutput(selectors.code_system_list(), many=True).data)


class ConceptSearchApi(TerminologyApi):
    @extend_schema(
        operation_id="terminology_search",
        parameters=[SYSTEM, SearchInput],
        responses=ConceptOutput(many=True),
        summary="Search a code system by code or words",
        description="The exact code first, then codes that may be recorded as is, shorter and more general first.",
    )
    def get(self, request: Request, system: str) -> Response:
        serializer = SearchInput(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        found = selectors.search(system, serializer.validated_data["q"], serializer.validated_data["limit"])
        return Response(ConceptOutput(found, many=True).data)


class ConceptApi(TerminologyApi):
    @extend_schema(
        operation_id="terminology_lookup",
        parameters=[SYSTEM, OpenApiParameter("code", str, OpenApiParameter.PATH, description="E11.9, or e119.")],
        responses=ConceptOutput,
        summary="Look a code up",
    )
    def get(self, request: Request, system: str, code: str) -> Response:
        concept = selectors.lookup(system, code)
        if concept is None:
            raise NotFound(f"no such code in {system}")
        return Response(ConceptOutput(concept).data)
