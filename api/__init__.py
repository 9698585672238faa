"""The HTTP API over the domain: parsing requests (params), the documents it answers with
(documents), what each domain error means to a caller (errors), and one handler per route
(routes). Plain Python: function_app.py adapts it to the Functions runtime."""
