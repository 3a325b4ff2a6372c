"""Stand-ins for the services the app talks to, held to their published contracts.

``tests.fakes.github.FakeGitHub`` (with ``tests.fakes.gitrepo.GitRepo``) plays GitHub's REST API.
"""
