"""How the OpenAPI schema describes PHB's authentication: a bearer JWT bound to a session."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class JwtAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "phb.accounts.authentication.JwtAuthentication"
    name = "jwt"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from POST /api/v1/auth/token/, valid while its session lasts.",
        }
