from ainotes.core.errors import ValidationFailed


class EmptySearchQuery(ValidationFailed):
    slug = "empty-search-query"
    title = "The search query is empty"


class SearchQueryTooComplex(ValidationFailed):
    slug = "search-query-too-complex"
    title = "The search query is too complex"
