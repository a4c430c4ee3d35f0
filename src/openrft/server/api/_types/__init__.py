"""Wire types: OpenAI's request and response shapes, named as the OpenAI SDK names them.

One module per resource. Responses are the server's ``response_model``s, so the served
OpenAPI document describes exactly what is returned.
"""
