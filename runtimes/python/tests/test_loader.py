import unittest

from runner import loader


class LoadHandlerTest(unittest.TestCase):
    def test_loads(self):
        fn = loader.load_handler("def handle(req):\n    return 'ok'\n", "handle")
        self.assertEqual(fn(None), "ok")

    def test_custom_handler_name(self):
        fn = loader.load_handler("def main(req):\n    return 1\n", "main")
        self.assertEqual(fn(None), 1)

    def test_errors_name_the_problem(self):
        cases = [
            ("def handle(req)\n  return 1\n", "handle", "SyntaxError"),
            ("def handle(req)\n  return 1\n", "handle", "line 1"),
            ("raise RuntimeError('boom')\n", "handle", "RuntimeError while loading: boom"),
            ("import sys\nsys.exit(3)\n", "handle", "SystemExit"),
            ("def other(req): pass\n", "handle", "handler 'handle' is not defined"),
            ("handle = 5\n", "handle", "is not callable"),
        ]
        for source, name, want in cases:
            with self.subTest(source=source):
                with self.assertRaises(loader.LoadError) as ctx:
                    loader.load_handler(source, name)
                self.assertIn(want, str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
