"""templates/kubernetes.yaml.j2, compiled by scripts/compile_templates.py: do not edit."""
# confgen.render.precompiled uses it while both values below still match.
TEMPLATE_SHA256 = '6bdb77e0ceb0faa32017aa7bea53706224d4212038fb0e1a22cfa0225e72fe39'
JINJA2_VERSION = '3.1.6'
from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'kubernetes.yaml.j2'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_profile = resolve('profile')
    l_0_name = resolve('name')
    l_0_data = resolve('data')
    l_0_digest = resolve('digest')
    l_0_grace = resolve('grace')
    l_0_socket_dirs = resolve('socket_dirs')
    l_0_nginx_image = resolve('nginx_image')
    l_0_prestop = resolve('prestop')
    l_0_routes = resolve('routes')
    l_0_min_replicas = resolve('min_replicas')
    l_0_max_replicas = resolve('max_replicas')
    l_0_cpu_utilization = resolve('cpu_utilization')
    l_0_p = l_0_labels = missing
    try:
        t_1 = environment.filters['indent']
    except KeyError:
        @internalcode
        def t_1(*unused):
            raise TemplateRuntimeError("No filter named 'indent' found.")
    pass
    l_0_p = (undefined(name='profile') if l_0_profile is missing else l_0_profile)
    context.vars['p'] = l_0_p
    context.exported_vars.add('p')
    l_0_labels = {'app.kubernetes.io/name': (undefined(name='name') if l_0_name is missing else l_0_name), 'app.kubernetes.io/managed-by': 'confgen'}
    context.vars['labels'] = l_0_labels
    context.exported_vars.add('labels')
    yield '# kubernetes.yaml rendered by confgen from '
    yield str(environment.getitem(context.call(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'source'), 'rsplit'), '/', 1), -1))
    yield '. Change the profile and re-render:\n#   confgen render '
    yield str(environment.getitem(context.call(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'source'), 'rsplit'), '/', 1), -1))
    yield ' --target kubernetes\n# Each pod is one replica of the sizing: nginx and gunicorn side by side, nginx reaching gunicorn\n# by its unix socket on a shared emptyDir, both configs (self-checked) from the ConfigMap.\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: '
    yield str((undefined(name='name') if l_0_name is missing else l_0_name))
    yield '-confgen\n  labels:\n'
    for (l_1_key, l_1_value) in context.call(environment.getattr((undefined(name='labels') if l_0_labels is missing else l_0_labels), 'items')):
        _loop_vars = {}
        pass
        yield '    '
        yield str(l_1_key)
        yield ': '
        yield str(l_1_value)
        yield '\n'
    l_1_key = l_1_value = missing
    yield 'data:\n'
    for (l_1_file, l_1_text) in context.call(environment.getattr((undefined(name='data') if l_0_data is missing else l_0_data), 'items')):
        _loop_vars = {}
        pass
        yield '  '
        yield str(l_1_file)
        yield ': |\n    '
        yield str(t_1(l_1_text, 4))
        yield '\n'
    l_1_file = l_1_text = missing
    yield '---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: '
    yield str((undefined(name='name') if l_0_name is missing else l_0_name))
    yield '\n  labels:\n'
    for (l_1_key, l_1_value) in context.call(environment.getattr((undefined(name='labels') if l_0_labels is missing else l_0_labels), 'items')):
        _loop_vars = {}
        pass
        yield '    '
        yield str(l_1_key)
        yield ': '
        yield str(l_1_value)
        yield '\n'
    l_1_key = l_1_value = missing
    yield 'spec:\n  # No replicas here: the HorizontalPodAutoscaler below owns the count.\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: '
    yield str((undefined(name='name') if l_0_name is missing else l_0_name))
    yield '\n  strategy:\n    rollingUpdate:\n      maxUnavailable: 0  # the sizing counts on every replica but one down\n      maxSurge: 1\n  template:\n    metadata:\n      labels:\n'
    for (l_1_key, l_1_value) in context.call(environment.getattr((undefined(name='labels') if l_0_labels is missing else l_0_labels), 'items')):
        _loop_vars = {}
        pass
        yield '        '
        yield str(l_1_key)
        yield ': '
        yield str(l_1_value)
        yield '\n'
    l_1_key = l_1_value = missing
    yield '      annotations:\n        confgen/config-sha256: "'
    yield str((undefined(name='digest') if l_0_digest is missing else l_0_digest))
    yield '"  # a changed config rolls the pods (a ConfigMap change alone does not)\n    spec:\n      terminationGracePeriodSeconds: '
    yield str(environment.getattr((undefined(name='grace') if l_0_grace is missing else l_0_grace), 'value'))
    yield '  # '
    yield str(environment.getattr((undefined(name='grace') if l_0_grace is missing else l_0_grace), 'reason'))
    yield '\n      volumes:\n        - name: config\n          configMap:\n            name: '
    yield str((undefined(name='name') if l_0_name is missing else l_0_name))
    yield '-confgen\n'
    l_1_loop = missing
    for l_1_directory, l_1_loop in LoopContext((undefined(name='socket_dirs') if l_0_socket_dirs is missing else l_0_socket_dirs), undefined):
        _loop_vars = {}
        pass
        yield '        - name: socket-'
        yield str(environment.getattr(l_1_loop, 'index'))
        yield '\n          emptyDir: {}  # '
        yield str(l_1_directory)
        yield ": gunicorn's socket, nginx connects to it\n"
    l_1_loop = l_1_directory = missing
    yield '      containers:\n        - name: nginx\n          image: '
    yield str((undefined(name='nginx_image') if l_0_nginx_image is missing else l_0_nginx_image))
    yield '\n          ports:\n            - name: http\n              containerPort: '
    yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'http_port'))
    yield '\n          volumeMounts:\n            - name: config\n              mountPath: /etc/nginx/nginx.conf\n              subPath: nginx.conf\n'
    l_1_loop = missing
    for l_1_directory, l_1_loop in LoopContext((undefined(name='socket_dirs') if l_0_socket_dirs is missing else l_0_socket_dirs), undefined):
        _loop_vars = {}
        pass
        yield '            - name: socket-'
        yield str(environment.getattr(l_1_loop, 'index'))
        yield '\n              mountPath: '
        yield str(l_1_directory)
        yield '\n'
    l_1_loop = l_1_directory = missing
    yield '          readinessProbe:\n            tcpSocket:\n              port: http\n            periodSeconds: 5\n          lifecycle:\n            preStop:\n              exec:\n                command: ["sleep", "'
    yield str(environment.getattr((undefined(name='prestop') if l_0_prestop is missing else l_0_prestop), 'value'))
    yield '"]  # '
    yield str(environment.getattr((undefined(name='prestop') if l_0_prestop is missing else l_0_prestop), 'reason'))
    yield '\n'
    l_1_loop = missing
    for l_1_route, l_1_loop in LoopContext((undefined(name='routes') if l_0_routes is missing else l_0_routes), undefined):
        l_1_config_dir = resolve('config_dir')
        _loop_vars = {}
        pass
        yield '        - name: '
        yield str(environment.getattr(l_1_route, 'name'))
        yield '\n          image: '
        yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'kubernetes'), 'image'))
        yield '\n          command: ["gunicorn", "-c", "'
        yield str((undefined(name='config_dir') if l_1_config_dir is missing else l_1_config_dir))
        yield '/'
        yield str(environment.getattr(l_1_route, 'config'))
        yield '"]\n          volumeMounts:\n            - name: config\n              mountPath: '
        yield str((undefined(name='config_dir') if l_1_config_dir is missing else l_1_config_dir))
        yield '\n'
        l_2_loop = missing
        for l_2_directory, l_2_loop in LoopContext((undefined(name='socket_dirs') if l_0_socket_dirs is missing else l_0_socket_dirs), undefined):
            _loop_vars = {}
            pass
            if (l_2_directory == environment.getattr(l_1_route, 'socket_dir')):
                pass
                yield '            - name: socket-'
                yield str(environment.getattr(l_2_loop, 'index'))
                yield '\n              mountPath: '
                yield str(l_2_directory)
                yield '\n'
        l_2_loop = l_2_directory = missing
        yield '          resources:\n            requests:\n              cpu: "'
        yield str(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'cpus'))
        yield '"  # the CPUs the sizing gave this replica (workers, threads, nginx worker_processes)\n          lifecycle:\n            preStop:\n              exec:\n                command: ["sleep", "'
        yield str(environment.getattr((undefined(name='prestop') if l_0_prestop is missing else l_0_prestop), 'value'))
        yield '"]  # as nginx\'s: gunicorn serves until nginx stops sending\n'
    l_1_loop = l_1_route = l_1_config_dir = missing
    yield '---\napiVersion: v1\nkind: Service\nmetadata:\n  name: '
    yield str((undefined(name='name') if l_0_name is missing else l_0_name))
    yield '\n  labels:\n'
    for (l_1_key, l_1_value) in context.call(environment.getattr((undefined(name='labels') if l_0_labels is missing else l_0_labels), 'items')):
        _loop_vars = {}
        pass
        yield '    '
        yield str(l_1_key)
        yield ': '
        yield str(l_1_value)
        yield '\n'
    l_1_key = l_1_value = missing
    yield 'spec:\n  selector:\n    app.kubernetes.io/name: '
    yield str((undefined(name='name') if l_0_name is missing else l_0_name))
    yield '\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: '
    yield str((undefined(name='name') if l_0_name is missing else l_0_name))
    yield '\n  labels:\n'
    for (l_1_key, l_1_value) in context.call(environment.getattr((undefined(name='labels') if l_0_labels is missing else l_0_labels), 'items')):
        _loop_vars = {}
        pass
        yield '    '
        yield str(l_1_key)
        yield ': '
        yield str(l_1_value)
        yield '\n'
    l_1_key = l_1_value = missing
    yield 'spec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: '
    yield str((undefined(name='name') if l_0_name is missing else l_0_name))
    yield '\n  minReplicas: '
    yield str(environment.getattr((undefined(name='min_replicas') if l_0_min_replicas is missing else l_0_min_replicas), 'value'))
    yield '  # '
    yield str(environment.getattr((undefined(name='min_replicas') if l_0_min_replicas is missing else l_0_min_replicas), 'reason'))
    yield '\n  maxReplicas: '
    yield str(environment.getattr((undefined(name='max_replicas') if l_0_max_replicas is missing else l_0_max_replicas), 'value'))
    yield '  # '
    yield str(environment.getattr((undefined(name='max_replicas') if l_0_max_replicas is missing else l_0_max_replicas), 'reason'))
    yield '\n  metrics:\n    - type: ContainerResource\n      containerResource:\n        name: cpu\n        container: '
    yield str(environment.getattr(environment.getitem((undefined(name='routes') if l_0_routes is missing else l_0_routes), 0), 'name'))
    yield '\n        target:\n          type: Utilization\n          averageUtilization: '
    yield str((undefined(name='cpu_utilization') if l_0_cpu_utilization is missing else l_0_cpu_utilization))
    yield "  # the sizing's 1.5 x headroom: scale out at 2/3 of the CPUs\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: "
    yield str((undefined(name='name') if l_0_name is missing else l_0_name))
    yield '\n  labels:\n'
    for (l_1_key, l_1_value) in context.call(environment.getattr((undefined(name='labels') if l_0_labels is missing else l_0_labels), 'items')):
        _loop_vars = {}
        pass
        yield '    '
        yield str(l_1_key)
        yield ': '
        yield str(l_1_value)
        yield '\n'
    l_1_key = l_1_value = missing
    yield 'spec:\n  maxUnavailable: 1  # the replica count leaves room for one down\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: '
    yield str((undefined(name='name') if l_0_name is missing else l_0_name))
    yield '\n'

blocks = {}
debug_info = '2=30&3=33&4=37&5=39&11=41&13=43&14=47&17=53&18=57&19=59&25=63&27=65&28=69&34=75&42=77&43=81&46=87&48=89&52=93&53=96&54=100&55=102&59=106&62=108&67=111&68=115&69=117&78=121&79=126&80=131&81=133&82=135&85=139&86=142&87=145&88=148&89=150&94=154&98=156&104=160&106=162&107=166&111=172&120=174&122=176&123=180&129=186&130=188&131=192&136=196&139=198&144=200&146=202&147=206&153=212'
